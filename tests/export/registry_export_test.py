"""Every registered Keras network exports, loads TF Serving's way, and serves correct results.

Parametrized over ``tfinpaint.models.list_models(kind="keras")`` (library models only: entries
whose builder lives in ``tfinpaint.models``; tests register tiny models of their own), so a
model added later is covered without touching this file. For each model:

1. build it at its test size and export it (``export_saved_model``);
2. load the export in a clean process with a ``tf.compat.v1`` session on the ``serve`` tag, as
   TF Serving does (``scripts/tfserving_session_check.py``, which never imports tfinpaint), on
   a real photo;
3. serve it with the local TF Serving-compatible server and send real photos (val set, resized
   to 64 x 96) with generated masks over gRPC (uint8 batch) and REST (PNG files, ``encoded``);
4. compare every answer with :class:`tfinpaint.inference.Inpainter` running the Keras model
   (pad to the size multiple, run, crop, composite) within one uint8 step; known pixels exact.

**Test-size convention:** a model whose default config is too big for a CPU test declares
small constructor overrides in its registry entry as ``metadata["test_config"]`` (e.g.
``pconv_unet``: ``{"layer_size": 4}``, size multiple 16). This test builds
``registry.build(name, **spec.metadata.get("test_config", {}))``.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tfinpaint.data.masks import get_mask_generator
from tfinpaint.export.model_server import ModelServer
from tfinpaint.export.saved_model import export_saved_model
from tfinpaint.export.serving import GrpcClient, RestClient, decode_png, encode_png
from tfinpaint.inference import Inpainter
from tfinpaint.models import registry

REPO = pathlib.Path(__file__).resolve().parents[2]
SESSION_CHECK = REPO / "scripts" / "tfserving_session_check.py"
HEIGHT, WIDTH = 64, 96



def _library_keras_models() -> list[str]:
    return [
        name for name in registry.list_models(kind="keras")
        if getattr(registry.get_spec(name).builder, "__module__", "").startswith("tfinpaint.")
    ]


MODELS = _library_keras_models()


def _photos(photos_dir, count=2):
    """``count`` val photos resized to 64 x 96 (uint8) and lama_medium masks (bool hole)."""
    files = sorted((photos_dir / "val").glob("*.jpg"))[:count]
    assert len(files) == count, f"need {count} val photos in {photos_dir / 'val'}"
    images = np.stack([
        np.asarray(Image.open(f).convert("RGB").resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC))
        for f in files
    ])
    generator = get_mask_generator("lama_medium")
    holes = np.stack([generator((HEIGHT, WIDTH), seed=7, index=i) for i in range(count)]) > 0
    assert all(0.01 < h.mean() < 0.9 for h in holes)
    return images, holes


def _assert_matches(got, want, image, hole, what):
    assert got.dtype == np.uint8 and got.shape == want.shape, what
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1, f"{what}: max difference {diff.max()} uint8 steps"
    np.testing.assert_array_equal(got[~hole], image[~hole], err_msg=f"{what}: known pixels")


@pytest.mark.large
@pytest.mark.skipif(not MODELS, reason="no Keras model registered yet")
@pytest.mark.parametrize("name", MODELS)
def test_export_session_load_and_serve(name, photos_dir, tmp_path):
    spec = registry.get_spec(name)
    test_config = spec.metadata.get("test_config", {})
    model = registry.build(name, **test_config)
    multiple = int(getattr(model, "size_multiple", None) or spec.size_multiple or 1)
    if getattr(model, "size_multiple", None) is None:
        model.size_multiple = multiple
    images, holes = _photos(photos_dir)
    # Reference: the Keras model through Inpainter (also builds a subclassed model's weights).
    want = Inpainter(model)(images, holes)
    assert want.shape == images.shape

    base = tmp_path / "saved_models"
    path = export_saved_model(model, base, name)
    assert path == base / name / "1"

    # TF Serving's load path, in a clean process, on the first photo.
    Image.fromarray(images[0]).save(tmp_path / "photo.png")
    Image.fromarray(holes[0].astype(np.uint8) * 255).save(tmp_path / "mask.png")
    session = subprocess.Popen(
        [sys.executable, str(SESSION_CHECK), str(path), "--image", str(tmp_path / "photo.png"),
         "--mask", str(tmp_path / "mask.png"), "--out", str(tmp_path / "session.png")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        with ModelServer(base, grpc_port=0, rest_port=0, workers=2, warmup=False) as server:
            assert server.served() == {name: [1]}
            with GrpcClient(f"127.0.0.1:{server.grpc_port}", name, timeout=120) as client:
                got = client.predict(images, holes)
                assert client.status()["model_version_status"][0]["state"] == "AVAILABLE"
            _assert_matches(got, want, images, holes, f"{name} gRPC")
            rest = RestClient(f"127.0.0.1:{server.rest_port}", name, timeout=120)
            png = rest.predict_encoded(encode_png(images[1]),
                                       encode_png(holes[1].astype(np.uint8) * 255))
            got = decode_png(png)
            _assert_matches(got, want[1], images[1], holes[1], f"{name} REST")
        out, err = session.communicate(timeout=300)
    finally:
        if session.poll() is None:
            session.kill()
            session.communicate()
    assert session.returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["python_ops"] == [] and report["output_dtype"] == "uint8"
    assert report["output_shape"] == [1, HEIGHT, WIDTH, 3]
    assert report["inputs"].keys() == {"image", "mask"}
    got = np.asarray(Image.open(tmp_path / "session.png"))
    _assert_matches(got, want[0], images[0], holes[0], f"{name} TF1 session")
