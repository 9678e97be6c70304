"""SavedModel export: layout, signatures, versions, and TF Serving's session-style load."""

import json
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinpaint.data.polarity import hole_from_user_mask
from tfinpaint.export.saved_model import (
    ENCODED_SIGNATURE,
    SERVING_SIGNATURE,
    export_saved_model,
    next_version,
)

REPO = pathlib.Path(__file__).resolve().parents[2]


def tiny_generator(size_multiple=8):
    """A generator following the library contract; sigmoid keeps the output in [0, 1]."""
    image = keras.Input((None, None, 3))
    mask = keras.Input((None, None, 1))
    x = keras.layers.Concatenate()([image, mask])
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same")(x)
    model = keras.Model([image, mask], {"output": keras.layers.Activation("sigmoid")(x)})
    model.size_multiple = size_multiple
    return model


def reference(generator, image, mask, multiple, margin=0):
    """numpy version of the signature: the mask rule, reflect pad (``margin`` on every side, then
    bottom/right to the multiple), run, crop, composite, round."""
    h, w = image.shape[1:3]
    hole = hole_from_user_mask(mask, batched=True)
    known = 1 - hole
    x = image.astype(np.float32) / 255
    m = margin
    pad = [(0, 0), (m, m + (-(h + 2 * m)) % multiple), (m, m + (-(w + 2 * m)) % multiple), (0, 0)]
    xp, kp = np.pad(x, pad, mode="reflect"), np.pad(known, pad, mode="reflect")
    out = np.asarray(generator((xp * kp, kp))["output"])[:, m : m + h, m : m + w]
    comp = known * x + hole * np.clip(out, 0, 1)
    return np.round(comp * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    generator = tiny_generator()
    path = export_saved_model(generator, base, "tiny")
    return generator, base, path


def _request(batch, h, w, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8)
    mask = np.zeros((batch, h, w, 1), np.uint8)
    mask[:, h // 4 : h // 2, w // 3 : w // 2 + 3] = 255
    mask[0, -3:, :5] = 128  # the one mask rule: a 0..255 mask is a hole where >= 128
    mask[0, :3, :5] = 127  # ... and known below
    return image, mask


def test_layout_and_metadata(exported):
    _, base, path = exported
    assert path == base / "tiny" / "1"
    assert (path / "saved_model.pb").exists() and (path / "variables").is_dir()
    assert (path / "assets.extra" / "tf_serving_warmup_requests").stat().st_size > 0
    info = json.loads((path / "assets.extra" / "tfinpaint.json").read_text())
    assert info["size_multiple"] == 8 and info["version"] == 1
    assert not [p for p in (base / "tiny").iterdir() if p.name.startswith(".tmp")]


def test_serving_default_any_size_matches_reference(exported):
    generator, _, path = exported
    loaded = tf.saved_model.load(str(path))
    fn = loaded.signatures[SERVING_SIGNATURE]
    for batch, h, w in [(1, 32, 32), (2, 37, 53), (1, 5, 70)]:
        image, mask = _request(batch, h, w)
        got = fn(image=tf.constant(image), mask=tf.constant(mask))["inpainted"].numpy()
        want = reference(generator, image, mask, 8)
        assert got.dtype == np.uint8 and got.shape == image.shape
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
        keep = mask[..., 0] == 0
        np.testing.assert_array_equal(got[keep], image[keep])


def test_context_margin_is_baked_into_the_signatures_and_recorded(tmp_path):
    """A generator's ``context_margin`` (reflected context on every side, the edge setting of the
    shipped default model) is what the serving graph runs, for any size (also smaller than the
    margin: repeated reflection), equal to Inpainter and the numpy reference."""
    from tfinpaint.inference import Inpainter

    generator = tiny_generator()
    generator.context_margin = 6
    path = export_saved_model(generator, tmp_path, "tiny")
    info = json.loads((path / "assets.extra" / "tfinpaint.json").read_text())
    assert info["context_margin"] == 6
    fn = tf.saved_model.load(str(path)).signatures[SERVING_SIGNATURE]
    inpainter = Inpainter(generator)
    for batch, h, w in [(1, 32, 32), (2, 37, 53), (1, 5, 70)]:
        image, mask = _request(batch, h, w)
        got = fn(image=tf.constant(image), mask=tf.constant(mask))["inpainted"].numpy()
        want = reference(generator, image, mask, 8, margin=6)
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
        # Without the margin the answer differs (the border sees other context).
        assert np.abs(reference(generator, image, mask, 8).astype(int) - want).max() > 1
        local = inpainter(image, mask)
        assert np.abs(local.astype(int) - want.astype(int)).max() <= 1


def test_encoded_signature_png_round_trip(exported):
    generator, _, path = exported
    fn = tf.saved_model.load(str(path)).signatures[ENCODED_SIGNATURE]
    image, mask = _request(1, 40, 24, seed=3)
    png = fn(
        image_bytes=tf.constant([tf.io.encode_png(image[0]).numpy()]),
        mask_bytes=tf.constant([tf.io.encode_png(np.where(mask[0] > 0, 255, 0).astype(np.uint8))
                                .numpy()]),
    )["inpainted_png_bytes"].numpy()
    decoded = tf.io.decode_png(png[0]).numpy()
    want = reference(generator, image, np.where(mask > 0, 255, 0), 8)[0]
    assert np.abs(decoded.astype(int) - want.astype(int)).max() <= 1


def test_bad_requests_raise_invalid_argument(exported):
    _, _, path = exported
    fn = tf.saved_model.load(str(path)).signatures[SERVING_SIGNATURE]
    image, mask = _request(1, 16, 16)
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size, height"):
        fn(image=tf.constant(image), mask=tf.constant(mask[:, :8]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty batch"):
        fn(image=tf.constant(image[:0]), mask=tf.constant(mask[:0]))


def test_versions_are_never_overwritten_silently(exported, tmp_path):
    generator, _, _ = exported
    p1 = export_saved_model(generator, tmp_path, "m", warmup=False)
    p2 = export_saved_model(generator, tmp_path, "m", warmup=False)
    assert (p1.name, p2.name) == ("1", "2") and next_version(tmp_path / "m") == 3
    with pytest.raises(FileExistsError, match="already exists"):
        export_saved_model(generator, tmp_path, "m", version=1)
    export_saved_model(generator, tmp_path, "m", version=1, overwrite=True, warmup=False)
    with pytest.raises(ValueError, match="Invalid model name"):
        export_saved_model(generator, tmp_path, "../evil")


def test_tf_serving_session_load_in_clean_process(exported):
    _, _, path = exported
    script = REPO / "scripts" / "tfserving_session_check.py"
    proc = subprocess.run([sys.executable, str(script), str(path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["output_shape"] == [2, 37, 53, 3] and report["output_dtype"] == "uint8"
    assert report["python_ops"] == [] and report["known_pixels_unchanged"]
    show = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "saved_model_cli"), "show", "--dir",
         str(path), "--tag_set", "serve", "--signature_def", SERVING_SIGNATURE],
        capture_output=True, text=True, timeout=300,
    )
    assert show.returncode == 0, show.stderr[-2000:]
    assert "DT_UINT8" in show.stdout and "inpainted" in show.stdout
