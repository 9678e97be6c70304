"""Tests for tfinpaint.inference: padding/cropping, compositing, masks, strategies, load()."""

from __future__ import annotations

import json
import uuid

import cv2
import numpy as np
import pytest
from PIL import Image

from tfinpaint.inference import Inpainter, load
from tfinpaint.models import registry


def pattern(h: int, w: int) -> np.ndarray:
    """Deterministic float image in [0, 1] from pixel coordinates (channel-dependent)."""
    y, x = np.mgrid[0:h, 0:w]
    chans = [((y * 7 + x * 3 + 50 * c) % 256) / 255.0 for c in range(3)]
    return np.stack(chans, axis=-1).astype(np.float32)


class FakeGenerator:
    """Follows the generator contract; output = pattern of the (padded) input coordinates."""

    def __init__(self, size_multiple=16, constant=None):
        self.size_multiple = size_multiple
        self.constant = constant
        self.calls = []  # (image, mask) numpy copies

    def __call__(self, inputs, training=None):
        image, mask = (np.asarray(t) for t in inputs)
        assert training is False
        n, h, w, c = image.shape
        assert c == 3 and mask.shape == (n, h, w, 1)
        assert h % self.size_multiple == 0 and w % self.size_multiple == 0, (h, w)
        assert image.dtype == np.float32 and mask.dtype == np.float32
        self.calls.append((image.copy(), mask.copy()))
        if self.constant is not None:
            out = np.full((n, h, w, 3), self.constant, np.float32)
        else:
            out = np.broadcast_to(pattern(h, w), (n, h, w, 3))
        return {"output": out, "coarse": out}


@pytest.fixture(scope="module")
def photo(photos_dir):
    """A real photo (val), uint8 RGB."""
    path = sorted((photos_dir / "val").glob("*.jpg"))[0]
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def small_photo(photo):
    """The real photo downscaled to 45 x 70 (H x W): not a multiple of 16, non-square."""
    return np.asarray(Image.fromarray(photo).resize((70, 45), Image.BILINEAR))


def hole_45x70():
    hole = np.zeros((45, 70), bool)
    hole[5:20, 10:33] = True  # a box
    hole[30:44, 60:70] = True  # touching the right border: reflected into the padding
    return hole


# ---- padding, cropping, compositing ----------------------------------------------------------


def test_pad_crop_round_trip_with_reflect_padding(small_photo):
    gen = FakeGenerator(16)
    hole = hole_45x70()
    out = Inpainter(gen)(small_photo, (hole * 255).astype(np.uint8))

    assert out.shape == (45, 70, 3) and out.dtype == np.uint8
    assert len(gen.calls) == 1
    seen_image, seen_mask = gen.calls[0]
    assert seen_image.shape == (1, 48, 80, 3) and seen_mask.shape == (1, 48, 80, 1)
    # Known pixels identical (bit for bit), hole pixels from the model's output (cropped).
    np.testing.assert_array_equal(out[~hole], small_photo[~hole])
    expected = np.round(pattern(48, 80)[:45, :70] * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[hole], expected[hole])

    # The model saw the masked image (holes zeroed) and the library mask (1 = known) ...
    known = (~hole).astype(np.float32)
    masked = small_photo.astype(np.float32) / 255 * known[..., None]
    np.testing.assert_allclose(seen_image[0, :45, :70], masked, atol=1e-7)
    np.testing.assert_array_equal(seen_mask[0, :45, :70, 0], known)
    # ... padded bottom/right by reflection without repeating the edge: row 45 <- 43,
    # row 47 <- 41, column 70 <- 68, column 79 <- 59 (hand-computed indices).
    np.testing.assert_allclose(seen_image[0, 45, :70], masked[43], atol=1e-7)
    np.testing.assert_allclose(seen_image[0, 47, :70], masked[41], atol=1e-7)
    np.testing.assert_allclose(seen_image[0, :45, 70], masked[:, 68], atol=1e-7)
    np.testing.assert_allclose(seen_image[0, :45, 79], masked[:, 59], atol=1e-7)
    np.testing.assert_allclose(seen_image[0, 47, 79], masked[41, 59], atol=1e-7)
    # The mask is reflected with the image: the hole at the right border continues into the pad.
    np.testing.assert_array_equal(seen_mask[0, :45, 70, 0], known[:, 68])
    assert seen_mask[0, 35, 75, 0] == 0.0 and seen_mask[0, 10, 75, 0] == 1.0


def test_keras_generator_and_float_io(small_photo):
    keras = pytest.importorskip("keras")
    image_in = keras.Input((None, None, 3))
    mask_in = keras.Input((None, None, 1))
    x = keras.layers.Concatenate()([image_in, mask_in])
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
    x = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="sigmoid")(x)
    model = keras.Model((image_in, mask_in), {"output": x})
    model.size_multiple = 2

    hole = hole_45x70()
    image = small_photo[:45, :69].astype(np.float32) / 255.0  # odd width: padded to 70
    out = Inpainter(model)(image, hole[:, :69])
    assert out.dtype == np.float32 and out.shape == (45, 69, 3)
    np.testing.assert_array_equal(out[~hole[:, :69]], image[~hole[:, :69]])
    padded = np.pad(image * ~hole[:, :69, None], ((0, 1), (0, 1), (0, 0)), mode="reflect")
    known = np.pad(
        (~hole[:, :69]).astype(np.float32)[..., None], ((0, 1), (0, 1), (0, 0)), "reflect"
    )
    reference = model((padded[None], known[None]))["output"].numpy()[0, :45, :69]
    np.testing.assert_allclose(out[hole[:, :69]], reference[hole[:, :69]], atol=1e-6)


def test_min_size_pads_small_images():
    gen = FakeGenerator(8)
    gen.min_size = 32
    image = np.full((10, 20, 3), 200, np.uint8)
    hole = np.zeros((10, 20), bool)
    hole[2:5, 2:5] = True
    out = Inpainter(gen)(image, hole)
    assert gen.calls[0][0].shape == (1, 32, 32, 3)
    assert out.shape == (10, 20, 3)
    # Reflection repeats when the pad exceeds the side (numpy "reflect" semantics).
    np.testing.assert_allclose(
        gen.calls[0][0][0],
        np.pad(image / 255.0 * ~hole[..., None], ((0, 22), (0, 12), (0, 0)), mode="reflect"),
        atol=1e-6,
    )


# ---- masks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [2.0, 0.2])
def test_mask_resized_with_nearest(small_photo, factor):
    rng = np.random.default_rng(0)
    mh, mw = round(45 * factor), round(70 * factor)
    mask = (rng.random((mh, mw)) > 0.7).astype(np.uint8) * 255
    gen = FakeGenerator(16)
    Inpainter(gen)(small_photo, mask)
    # Independent reference: Pillow's NEAREST resize of the mask to the image size.
    reference = np.asarray(Image.fromarray(mask).resize((70, 45), Image.NEAREST)) > 127
    np.testing.assert_array_equal(gen.calls[0][1][0, :45, :70, 0], (~reference).astype(np.float32))
    assert set(np.unique(gen.calls[0][1])) <= {0.0, 1.0}


def test_mask_aspect_mismatch_raises(small_photo):
    with pytest.raises(ValueError, match="aspect"):
        Inpainter(FakeGenerator())(small_photo, np.zeros((45, 45), np.uint8))


@pytest.mark.parametrize(
    "mask_fn",
    [
        lambda h: h,  # bool
        lambda h: h.astype(np.uint8) * 255,  # uint8 white = hole
        lambda h: np.where(h, 0.75, 0.25).astype(np.float32),  # float > 0.5 = hole
        lambda h: np.repeat((h.astype(np.uint8) * 200)[..., None], 3, axis=-1),  # RGB mask
    ],
)
def test_mask_dtypes_and_polarity(small_photo, mask_fn):
    hole = hole_45x70()
    reference = Inpainter(FakeGenerator())(small_photo, hole)
    np.testing.assert_array_equal(Inpainter(FakeGenerator())(small_photo, mask_fn(hole)), reference)
    # White = known masks, per call or per Inpainter, give the same result as the inverted mask.
    inverted = mask_fn(~hole)
    np.testing.assert_array_equal(
        Inpainter(FakeGenerator())(small_photo, inverted, mask_polarity="known"), reference
    )
    np.testing.assert_array_equal(
        Inpainter(FakeGenerator(), mask_polarity="known")(small_photo, inverted), reference
    )
    assert not np.array_equal(reference, small_photo)


def test_uint8_zero_one_mask_is_the_same_hole_as_zero_255(small_photo):
    # The one mask rule (tfinpaint.data.polarity): a 0/1 uint8 mask is read on the 0..1 scale.
    hole = hole_45x70()
    a = Inpainter(FakeGenerator())(small_photo, hole.astype(np.uint8))
    b = Inpainter(FakeGenerator())(small_photo, hole.astype(np.uint8) * 255)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, small_photo)


def test_empty_mask_returns_image_without_model_call(small_photo):
    gen = FakeGenerator()
    out = Inpainter(gen)(small_photo, np.zeros((45, 70), np.uint8))
    np.testing.assert_array_equal(out, small_photo)
    assert out is not small_photo and gen.calls == []


def test_all_hole_mask_fills_everything(small_photo):
    gen = FakeGenerator(16, constant=0.5)
    out = Inpainter(gen)(small_photo, np.full((45, 70), 255, np.uint8))
    assert (out == 128).all()  # round(0.5 * 255) = 128
    assert gen.calls[0][1].max() == 0.0


def test_gray_and_rgba_inputs(small_photo):
    hole = hole_45x70()
    gray = small_photo[..., 0]
    out = Inpainter(FakeGenerator())(gray, hole)
    assert out.shape == (45, 70, 3)
    np.testing.assert_array_equal(out[~hole], np.repeat(gray[..., None], 3, -1)[~hole])
    rgba = np.concatenate([small_photo, np.full((45, 70, 1), 7, np.uint8)], axis=-1)
    np.testing.assert_array_equal(
        Inpainter(FakeGenerator())(rgba, hole), Inpainter(FakeGenerator())(small_photo, hole)
    )


def test_batches_match_single_calls(small_photo):
    rng = np.random.default_rng(1)
    masks = (rng.random((3, 45, 70)) > 0.8).astype(np.uint8) * 255
    masks[1] = 0  # one image without holes
    images = np.stack([small_photo, small_photo[::-1], small_photo[:, ::-1]])
    gen = FakeGenerator()
    out = Inpainter(gen, batch_size=2)(images, masks)
    assert out.shape == (3, 45, 70, 3)
    assert [c[0].shape[0] for c in gen.calls] == [2]  # images 0 and 2 in one call
    for i in range(3):
        np.testing.assert_array_equal(out[i], Inpainter(FakeGenerator())(images[i], masks[i]))
    # One mask broadcast to every image of a batch.
    shared = Inpainter(FakeGenerator())(images, masks[0])
    np.testing.assert_array_equal(shared[2], Inpainter(FakeGenerator())(images[2], masks[0]))


@pytest.mark.parametrize(
    "image, mask, match",
    [
        (np.zeros((2, 2, 45, 70, 3), np.uint8), np.zeros((45, 70)), "image must be"),
        (np.zeros((45, 70, 2), np.uint8), np.zeros((45, 70)), "image must be"),
        (np.full((45, 70, 3), 255.0, np.float32), np.ones((45, 70)), r"\[0, 1\]"),
        (np.zeros((45, 70, 3), np.int16), np.ones((45, 70)), "dtype"),
        (np.zeros((3, 45, 70, 3), np.uint8), np.zeros((2, 45, 70)), "mask must be"),
        (np.zeros((45, 70, 3), np.uint8), np.zeros((45, 70, 1, 1)), "mask must be"),
        (np.zeros((45, 70, 3), np.uint8), np.zeros((0, 0)), "empty"),
    ],
)
def test_validation_errors(image, mask, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Inpainter(FakeGenerator())(image, mask)


def test_constructor_validation():
    with pytest.raises(ValueError, match="strategy"):
        Inpainter(FakeGenerator(), strategy="tile")
    with pytest.raises(ValueError, match="crop_margin"):
        Inpainter(FakeGenerator(), crop_margin=-1)
    with pytest.raises(ValueError, match="mask_polarity"):
        Inpainter(FakeGenerator(), mask_polarity="white")
    with pytest.raises(TypeError, match="callable"):
        Inpainter(object())


def test_generator_without_output_key_raises(small_photo):
    with pytest.raises(ValueError, match="'output'"):
        Inpainter(lambda inputs, training=None: {"coarse": inputs[0]})(small_photo, hole_45x70())


# ---- high-resolution strategies on a large real photo ------------------------------------------


@pytest.fixture(scope="module")
def large_photo(photo):
    """A real photo upsampled to 1200 x 1600 (H x W)."""
    return cv2.resize(photo, (1600, 1200), interpolation=cv2.INTER_LINEAR)


def test_crop_strategy_runs_on_crops_only(large_photo):
    hole = np.zeros((1200, 1600), bool)
    hole[500:540, 700:760] = True  # region A
    hole[1150:1190, 1560:1590] = True  # region B, near the bottom-right corner
    gen = FakeGenerator(16)
    out = Inpainter(gen, strategy="crop", crop_margin=128)(large_photo, hole)

    # Two crops, each padded to 16: A's 40 x 60 box grown by 128 each side (296 x 316, origin
    # (372, 572)); B's 40 x 30 box grown to 296 x 286 and shifted inward at the borders:
    # rows 1200-296..1200, cols 1600-286..1600 (origin (904, 1314)).
    shapes = sorted(c[0].shape[1:3] for c in gen.calls)
    assert shapes == sorted([(304, 320), (304, 288)])
    np.testing.assert_array_equal(out[~hole], large_photo[~hole])
    # Region A: crop origin (372, 572) -> pasted pixels are pattern(y - 372, x - 572).
    pa = np.round(pattern(304, 320) * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[500:540, 700:760], pa[128:168, 128:188])
    # Region B: crop origin (904, 1314).
    pb = np.round(pattern(304, 288) * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[1150:1190, 1560:1590], pb[246:286, 246:276])
    # The crop the model saw is the photo itself (masked), not a resized copy.
    seen = next(c for c in gen.calls if c[0].shape[2] == 320)[0][0]
    np.testing.assert_allclose(seen[:40, :40], large_photo[372:412, 572:612] / 255.0, atol=1e-6)


def test_crop_strategy_merges_overlapping_regions_and_skips_small_images(large_photo):
    hole = np.zeros((1200, 1600), bool)
    hole[500:520, 700:720] = True
    hole[500:520, 900:920] = True  # 180 px apart: the grown boxes overlap -> one crop
    gen = FakeGenerator(16)
    inpainter = Inpainter(gen, strategy="crop", crop_margin=128)
    boxes = inpainter.crop_boxes(hole)
    assert [b for b, _ in boxes] == [(372, 572, 648, 1048)]
    np.testing.assert_array_equal(boxes[0][1], hole)
    inpainter(large_photo, hole)
    assert [c[0].shape[1:3] for c in gen.calls] == [(288, 480)]  # 276 x 476 padded to 16
    # Below the trigger size the whole image runs once.
    gen.calls.clear()
    inpainter(large_photo[:600, :800], hole[:600, :800])
    assert [c[0].shape[1:3] for c in gen.calls] == [(608, 800)]


def test_resize_strategy_pastes_upscaled_hole_only(large_photo):
    hole = np.zeros((1200, 1600), bool)
    hole[400:520, 600:760] = True
    gen = FakeGenerator(16, constant=0.2)
    out = Inpainter(gen, strategy="resize", resize_limit=1280)(large_photo, hole)
    assert [c[0].shape[1:3] for c in gen.calls] == [(960, 1280)]
    np.testing.assert_array_equal(out[~hole], large_photo[~hole])
    # Far from the hole's border the bicubic upscale of a constant fill is that constant.
    assert (out[410:510, 610:750] == 51).all()  # round(0.2 * 255) = 51
    # The small mask covers every original hole pixel (area rule): the 0.8x-scaled box.
    small_hole = gen.calls[0][1][0, ..., 0] == 0
    ys, xs = np.nonzero(small_hole)
    assert (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1) == (320, 416, 480, 608)


def test_max_size_caps_every_model_call(large_photo):
    hole = np.zeros((1200, 1600), bool)
    hole[400:500, 600:700] = True
    gen = FakeGenerator(16, constant=0.2)
    out = Inpainter(gen, max_size=640)(large_photo, hole)
    assert [c[0].shape[1:3] for c in gen.calls] == [(480, 640)]
    np.testing.assert_array_equal(out[~hole], large_photo[~hole])


# ---- classical methods by name -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, flag", [("cv2-telea", cv2.INPAINT_TELEA), ("cv2-ns", cv2.INPAINT_NS)]
)
def test_classical_by_name_matches_opencv(photo, name, flag):
    image = photo[:300, :420]
    hole = np.zeros(image.shape[:2], np.uint8)
    hole[100:140, 150:230] = 255
    cv2.circle(hole, (350, 250), 20, 255, -1)
    out = Inpainter(name)(image, hole)
    # Independent reference: OpenCV directly on the uint8 photo (radius 3, the registered default).
    np.testing.assert_array_equal(out, cv2.inpaint(image, hole, 3, flag))
    h = hole > 0
    err = np.abs(out[h].astype(int) - image[h].astype(int)).mean()
    assert err < np.abs(image[h].astype(int) - image[~h].mean()).mean()  # better than mean fill


# ---- load() ------------------------------------------------------------------------------------


def _build_tiny(filters=4):
    import keras

    image_in = keras.Input((None, None, 3))
    mask_in = keras.Input((None, None, 1))
    x = keras.layers.Concatenate()([image_in, mask_in])
    x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", name="down")(x)
    x = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="sigmoid")(x)
    return keras.Model((image_in, mask_in), {"output": x})


@pytest.fixture(scope="module")
def tiny_name():
    name = f"test_tiny_{uuid.uuid4().hex[:8]}"
    registry.register_model(
        registry.ModelSpec(name=name, builder=_build_tiny, config={"filters": 4}, size_multiple=4)
    )
    yield name
    registry._REGISTRY.pop(name, None)


def test_load_run_directory_and_weights_file(tmp_path, tiny_name, small_photo):
    trained = registry.build(tiny_name, filters=3)
    for v in trained.weights:  # deterministic, non-initial weights
        v.assign(np.linspace(-0.3, 0.3, int(np.prod(v.shape))).reshape(v.shape))
    (tmp_path / "config.json").write_text(
        json.dumps({"model": tiny_name, "config": {"filters": 3}, "recipe": None})
    )
    trained.save_weights(str(tmp_path / "generator.weights.h5"))

    for source in (tmp_path, tmp_path / "generator.weights.h5", str(tmp_path)):
        model = load(source)
        assert model.size_multiple == 4
        assert model.get_layer("down").kernel.shape[-1] == 3  # the override was applied
        for a, b in zip(model.weights, trained.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    hole = hole_45x70()
    out = Inpainter(str(tmp_path))(small_photo, hole)
    np.testing.assert_array_equal(out[~hole], small_photo[~hole])
    assert out.shape == (45, 70, 3)


class _TinySubclassed:
    """Factory for a subclassed generator (variables exist only after the first call)."""

    @staticmethod
    def build(filters=2):
        import keras

        class Tiny(keras.Model):
            size_multiple = 8

            def __init__(self, filters, **kwargs):
                super().__init__(**kwargs)
                self.conv = keras.layers.Conv2D(filters, 3, padding="same")
                self.head = keras.layers.Conv2D(3, 1, activation="sigmoid")

            def call(self, inputs, training=None):
                image, mask = inputs
                x = self.conv(keras.ops.concatenate([image * mask, mask], axis=-1))
                return {"output": self.head(x)}

        return Tiny(filters)


def test_load_subclassed_generator_and_classical_run(tmp_path, small_photo):
    name = f"test_sub_{uuid.uuid4().hex[:8]}"
    registry.register_model(
        registry.ModelSpec(name=name, builder=_TinySubclassed.build, config={"filters": 2})
    )
    try:
        trained = registry.build(name, filters=5)
        x = np.random.default_rng(0).random((1, 16, 16, 3)).astype(np.float32)
        m = np.ones((1, 16, 16, 1), np.float32)
        reference = trained((x, m))["output"].numpy()
        trained.save_weights(str(tmp_path / "generator.weights.h5"))
        (tmp_path / "config.json").write_text(json.dumps({"model": name, "config": {"filters": 5}}))
        model = load(tmp_path)  # built by one call before the weights are loaded
        np.testing.assert_allclose(model((x, m))["output"].numpy(), reference, atol=1e-6)
        assert Inpainter(model).size_multiple == 8
    finally:
        registry._REGISTRY.pop(name, None)
    # A run directory naming a classical method needs no weights file.
    classical = tmp_path / "classical"
    classical.mkdir()
    (classical / "config.json").write_text(json.dumps({"model": "cv2-ns", "config": {"radius": 5}}))
    assert load(classical).radius == 5


def test_load_by_name(tiny_name):
    with pytest.warns(UserWarning, match="RANDOM, UNTRAINED"):
        model = load(tiny_name)
    assert model.size_multiple == 4
    classical = load("cv2-telea")
    assert classical.size_multiple == 1 and callable(classical)


def test_load_errors(tmp_path, tiny_name):
    with pytest.raises(FileNotFoundError, match="neither a registered model name"):
        load("no-such-model")
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model": tiny_name}))
    with pytest.raises(FileNotFoundError, match="generator.weights.h5 is missing"):
        load(tmp_path)
    (tmp_path / "generator.weights.h5").write_bytes(b"")
    (tmp_path / "config.json").write_text(json.dumps({"config": {}}))
    with pytest.raises(ValueError, match="no 'model' key"):
        load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model": "nope"}))
    with pytest.raises(KeyError, match="Unknown model 'nope'"):
        load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model": tiny_name, "config": {"x": 1}}))
    with pytest.raises(KeyError, match="Unknown config keys"):
        load(tmp_path)
    other = tmp_path / "sub"
    other.mkdir()
    (other / "g.weights.h5").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="no config.json beside it"):
        load(other / "g.weights.h5")
    (other / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a loadable model"):
        load(other / "notes.txt")
