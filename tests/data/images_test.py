"""Tests for tfinpaint.data.images on the real photo set (val/ and small/ subsets, 32-96 px).

References are independent of the code under test where possible: Pillow decodes the JPEGs
(libjpeg's accurate IDCT, as the pipeline asks TF for) and Pillow's BILINEAR resize (an
antialiased triangle filter, like ``tf.image.resize(..., antialias=True)``) checks the crops.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfinpaint.data import images as I

# One uint8 step plus float rounding: Pillow rounds to uint8, TF stays in float.
PIL_RESIZE_TOL = 1.01 / 255


# === Helpers ===


@pytest.fixture(scope="module")
def val_files(photos_dir):
    return I.list_image_files(photos_dir / "val")[:6]


@pytest.fixture(scope="module")
def small_files(photos_dir):
    return I.list_image_files(photos_dir / "small")[:4]


def _pil_rgb(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _pil_resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    resized = Image.fromarray(array).resize((width, height), Image.BILINEAR)
    return np.asarray(resized).astype(np.float32) / 255.0


def _small_photo(path, height, width) -> np.ndarray:
    """A real photo brought to an exact size (Pillow LANCZOS), uint8 RGB."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((width, height), Image.LANCZOS))


def _collect(ds):
    return [np.asarray(x) for x in ds.as_numpy_iterator()]


def _with_paths(ds):
    items = list(ds.as_numpy_iterator())
    return [img for img, _ in items], [p.decode() for _, p in items]


def _find_window(big: np.ndarray, window: np.ndarray) -> list[tuple[int, int]]:
    """All (y, x) where ``window`` equals ``big[y:y+h, x:x+w]`` exactly."""
    h, w = window.shape[:2]
    return [
        (y, x)
        for y in range(big.shape[0] - h + 1)
        for x in range(big.shape[1] - w + 1)
        if np.array_equal(big[y : y + h, x : x + w], window)
    ]


def _save(array, path, fmt=None, **kwargs):
    Image.fromarray(array).save(path, fmt, **kwargs)
    return str(path)


# === Sources ===


def test_folder_source_is_recursive_case_insensitive_and_sorted(tmp_path, val_files):
    photo = _small_photo(val_files[0], 24, 32)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    expected = [
        shutil.copy(val_files[1], tmp_path / "A.JPG"),
        _save(photo, tmp_path / "b.jpeg", "JPEG"),
        _save(photo, tmp_path / "c.Png", "PNG"),
        _save(photo, tmp_path / "sub" / "d.webp", "WEBP", lossless=True),
        _save(photo, tmp_path / "sub" / "deeper" / "e.BMP", "BMP"),
    ]
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "SOURCES.tsv").write_text("a\tb\n")
    (tmp_path / "sub" / "f.gif.bak").write_bytes(b"x")
    listed = I.list_image_files(tmp_path)
    assert listed == sorted(str(p) for p in expected)
    assert I.list_image_files(str(tmp_path)) == listed  # str and Path alike
    # Each of the five formats decodes (lossless ones exactly) through the dataset.
    ds = I.image_dataset(tmp_path, crop=None, flip=False, with_paths=True)
    images, paths = _with_paths(ds)
    assert paths == listed
    for image, path in zip(images, paths):
        if path.lower().endswith((".png", ".webp", ".bmp")):
            np.testing.assert_array_equal(np.round(image * 255).astype(np.uint8), photo)


def test_list_file_source_resolves_relative_paths_and_skips_comments(tmp_path, val_files):
    lists = tmp_path / "lists"
    lists.mkdir()
    local = shutil.copy(val_files[2], tmp_path / "local.jpg")
    text = "\n".join(
        [
            "# evaluation subset",
            f"  {val_files[3]}  ",  # absolute, padded
            "",
            "../local.jpg",  # relative to the list file's folder
            "   # indented comment",
            val_files[0],
        ]
    )
    (lists / "subset.txt").write_text(text + "\n")
    listed = I.list_image_files(lists / "subset.txt")
    assert [os.path.realpath(p) for p in listed] == [
        os.path.realpath(p) for p in (val_files[3], local, val_files[0])
    ]
    images = _collect(I.image_dataset(lists / "subset.txt", crop=None, flip=False))
    for image, path in zip(images, (val_files[3], local, val_files[0])):
        np.testing.assert_array_equal(np.round(image * 255).astype(np.uint8), _pil_rgb(path))


def test_glob_source_and_python_list(photos_dir):
    pattern = str(photos_dir / "val" / "gcompris-b*.jpg")
    listed = I.list_image_files(pattern)
    names = sorted(p for p in os.listdir(photos_dir / "val") if p.startswith("gcompris-b"))
    assert [os.path.basename(p) for p in listed] == names and len(names) >= 2
    # A recursive glob over the whole photo tree finds the val and small files (not the .tsv).
    everything = I.list_image_files(str(photos_dir / "**" / "*"))
    assert all(p.lower().endswith(I.IMAGE_EXTENSIONS) for p in everything)
    assert set(listed) <= set(everything)
    assert I.list_image_files(listed[::-1]) == listed[::-1]  # a list keeps its order


def test_source_errors_name_the_problem(tmp_path, val_files):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        I.list_image_files(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="matched no file"):
        I.list_image_files(str(tmp_path / "*.jpg"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No image files found"):
        I.image_dataset(tmp_path / "empty")
    with pytest.raises(ValueError, match="mixes TFRecord shards and image files"):
        I.resolve_source([val_files[0], str(tmp_path / "x.tfrecord")])
    with pytest.raises(TypeError, match="must hold paths"):
        I.resolve_source([val_files[0], 3])
    with pytest.raises(ValueError, match="crop must be one of"):
        I.image_dataset(val_files, crop="square")
    with pytest.raises(ValueError, match="size must be an int or a pair"):
        I.image_dataset(val_files, size=(32, 32, 3))
    with pytest.raises(ValueError, match="batch_size=4"):
        I.image_dataset(val_files, crop=None, batch_size=4)


# === Decoding ===


def test_jpeg_decoding_equals_pillow_exactly(val_files, small_files):
    for path in val_files[:3] + small_files[:2]:
        decoded = I.load_image(path)
        assert decoded.dtype == np.uint8 and decoded.shape[-1] == 3
        np.testing.assert_array_equal(decoded, _pil_rgb(path))


def test_grayscale_and_alpha_pngs_become_rgb(tmp_path, val_files):
    rgb = _small_photo(val_files[4], 40, 56)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    alpha = np.tile(np.linspace(0, 255, rgb.shape[1]).round().astype(np.uint8), (rgb.shape[0], 1))
    gray_png = _save(gray, tmp_path / "gray.png")
    rgba_png = _save(np.dstack([rgb, alpha]), tmp_path / "rgba.png")
    la_png = str(tmp_path / "la.png")
    Image.fromarray(np.dstack([gray, alpha]), "LA").save(la_png)
    gray_jpg = _save(gray, tmp_path / "gray.jpg", "JPEG", quality=95)

    np.testing.assert_array_equal(I.load_image(gray_png), np.repeat(gray[..., None], 3, -1))
    # Alpha is composited over white: rgb * a + 255 * (1 - a), computed here in float64.
    a = alpha[..., None] / 255.0
    want = np.round(rgb * a + 255.0 * (1.0 - a)).astype(np.uint8)
    got = I.load_image(rgba_png)
    assert np.abs(got.astype(int) - want).max() <= 1  # float32 vs float64 rounding
    assert (got[:, -1] == rgb[:, -1]).all()  # opaque column unchanged
    assert (got[:, 0] == 255).all()  # fully transparent column is white
    want_la = np.round(gray[..., None] * a + 255.0 * (1.0 - a)).astype(np.uint8)
    assert np.abs(I.load_image(la_png).astype(int) - np.repeat(want_la, 3, -1)).max() <= 1
    # A grayscale JPEG comes out as three equal channels equal to Pillow's luminance decode.
    gj = I.load_image(gray_jpg)
    with Image.open(gray_jpg) as im:
        np.testing.assert_array_equal(gj[..., 0], np.asarray(im))
    assert (gj[..., 0] == gj[..., 1]).all() and (gj[..., 1] == gj[..., 2]).all()

    # The pipeline gives the same pixels, as float32 in [0, 1].
    ds = I.image_dataset([gray_png, rgba_png], crop=None, flip=False)
    for image, path in zip(_collect(ds), (gray_png, rgba_png)):
        assert image.dtype == np.float32 and image.shape == (40, 56, 3)
        np.testing.assert_array_equal(np.round(image * 255).astype(np.uint8), I.load_image(path))


def test_load_image_errors_name_the_file(tmp_path, val_files):
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        I.load_image(tmp_path / "missing.jpg")
    raw = pathlib.Path(val_files[0]).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ValueError, match=r"cut\.jpg.*truncated"):
        I.load_image(tmp_path / "cut.jpg")
    (tmp_path / "noise.png").write_bytes(np.random.default_rng(0).bytes(512))
    with pytest.raises(ValueError, match=r"noise\.png.*unrecognized header"):
        I.load_image(tmp_path / "noise.png")


# === Bad files ===


def _folder_with_bad_files(tmp_path, val_files):
    good = [str(shutil.copy(p, tmp_path / os.path.basename(p))) for p in val_files[:4]]
    raw = pathlib.Path(val_files[4]).read_bytes()
    bad = {
        "truncated.jpg": raw[: len(raw) // 2],
        "random.png": np.random.default_rng(1).bytes(4096),
        "empty.jpeg": b"",
        "text.webp": b"this is a text file, not an image\n",
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    return sorted(good), sorted(str(tmp_path / n) for n in bad)


def test_corrupt_files_are_skipped_and_named(tmp_path, val_files):
    good, bad = _folder_with_bad_files(tmp_path, val_files)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, paths = _with_paths(
            I.image_dataset(tmp_path, crop=None, flip=False, with_paths=True)
        )
    assert paths == good  # exactly the good ones, in order
    for image, path in zip(images, paths):
        np.testing.assert_array_equal(np.round(image * 255).astype(np.uint8), _pil_rgb(path))
    messages = [str(w.message) for w in caught if w.category is I.UnreadableImageWarning]
    assert len(messages) == len(bad)
    for path in bad:
        assert sum(path in m for m in messages) == 1, (path, messages)
    assert not any(os.path.basename(p) in m for p in good for m in messages)


def test_bad_files_warn_once_with_repeat_batches_and_shuffle(tmp_path, val_files):
    good, bad = _folder_with_bad_files(tmp_path, val_files)
    ds = I.image_dataset(
        tmp_path, size=32, batch_size=3, shuffle=True, repeat=True, seed=3, drop_remainder=True
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = _collect(ds.take(8))  # 24 images = 6 epochs of the 4 good files
    assert all(b.shape == (3, 32, 32, 3) for b in batches)
    assert len([w for w in caught if w.category is I.UnreadableImageWarning]) == len(bad)


def test_on_error_skip_is_silent_and_raise_stops(tmp_path, val_files):
    good, _ = _folder_with_bad_files(tmp_path, val_files)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        n = len(_collect(I.image_dataset(tmp_path, size=32, on_error="skip")))
    assert n == len(good)
    assert not [w for w in caught if w.category is I.UnreadableImageWarning]
    with pytest.raises(tf.errors.InvalidArgumentError):
        _collect(I.image_dataset(tmp_path, size=32, on_error="raise"))


# === Crop policies ===


@pytest.mark.parametrize("crop", ["random_square_crop", "center_crop", "resize", "random_crop"])
@pytest.mark.parametrize("size", [48, (40, 56)])
def test_crop_policy_shapes_dtype_and_range(crop, size, val_files, small_files):
    height, width = (size, size) if isinstance(size, int) else size
    files = val_files[:2] + small_files[:2]
    ds = I.image_dataset(files, size=size, crop=crop, batch_size=2, seed=0)
    assert ds.element_spec.shape.as_list() == [None, height, width, 3]
    batches = _collect(ds)
    assert [b.shape for b in batches] == [(2, height, width, 3)] * 2
    for b in batches:
        assert b.dtype == np.float32 and b.min() >= 0.0 and b.max() <= 1.0
        assert b.std() > 0.02  # real picture content, not a constant fill


def test_crop_none_keeps_native_size(val_files):
    ds = I.image_dataset(val_files[:3], crop=None, flip=False, batch_size=1)
    for batch, path in zip(_collect(ds), val_files[:3]):
        ref = _pil_rgb(path)
        assert batch.shape == (1, *ref.shape)
        np.testing.assert_array_equal(np.round(batch[0] * 255).astype(np.uint8), ref)


def test_center_crop_and_resize_match_pillow(val_files):
    path = val_files[1]
    ref = _pil_rgb(path)
    h, w = ref.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    center = ref[y : y + side, x : x + side]
    got = I.image_dataset(path, size=48, crop="center_crop", flip=False).get_single_element()
    np.testing.assert_allclose(got.numpy(), _pil_resize(center, 48, 48), atol=PIL_RESIZE_TOL)
    # Non-square target: the crop keeps the target aspect (40:56).
    got = I.image_dataset(path, size=(40, 56), crop="center_crop", flip=False)
    crop_h = min(h, round(w * 40 / 56))
    crop_w = min(w, round(h * 56 / 40))
    y, x = (h - crop_h) // 2, (w - crop_w) // 2
    want = _pil_resize(ref[y : y + crop_h, x : x + crop_w], 40, 56)
    np.testing.assert_allclose(got.get_single_element().numpy(), want, atol=PIL_RESIZE_TOL)
    # "resize" squeezes the whole picture, aspect not kept.
    got = I.image_dataset(path, size=(40, 56), crop="resize", flip=False).get_single_element()
    np.testing.assert_allclose(got.numpy(), _pil_resize(ref, 40, 56), atol=PIL_RESIZE_TOL)


def test_center_crop_at_native_short_side_is_an_exact_window(val_files):
    ref = _pil_rgb(val_files[0])
    h, w = ref.shape[:2]
    side = min(h, w)
    got = I.image_dataset(val_files[0], size=side, crop="center_crop", flip=False)
    got = np.round(got.get_single_element().numpy() * 255).astype(np.uint8)
    y, x = (h - side) // 2, (w - side) // 2
    np.testing.assert_array_equal(got, ref[y : y + side, x : x + side])


def test_random_square_crop_box_stays_in_target_to_short_side():
    h, w, target = 150, 220, 32
    boxes = np.array(
        [
            [int(v) for v in I._square_crop_box(h, w, target, target, tf.constant([s, 7]))]
            for s in range(120)
        ]
    )
    y, x, ch, cw = boxes.T
    assert (ch == cw).all()  # square
    assert ch.min() >= target and ch.max() <= min(h, w)  # never smaller than the target
    assert (y >= 0).all() and (y + ch <= h).all() and (x >= 0).all() and (x + cw <= w).all()
    # Uniform over [32, 150]: 120 draws reach both ends of the range and fill its middle.
    assert ch.min() < target + 15 and ch.max() > min(h, w) - 15
    assert 0.35 < np.mean(ch < (target + min(h, w)) / 2) < 0.65
    # Non-square target: the crop keeps the 32:48 aspect and fits.
    for s in range(20):
        y, x, ch, cw = (int(v) for v in I._square_crop_box(h, w, 32, 48, tf.constant([s, 1])))
        assert ch >= 32 and cw >= 48 and abs(cw - ch * 1.5) <= 0.5
        assert y + ch <= h and x + cw <= w


def test_random_square_crop_never_upsamples_a_smaller_crop(tmp_path, val_files):
    # Short side == target: every crop is a target-size window, so the output must be an exact
    # copy of a window of the source (any resampling would change the pixels).
    photo = _small_photo(val_files[2], 48, 80)
    path = _save(photo, tmp_path / "p.png")
    offsets = set()
    for seed in range(6):
        out = I.image_dataset(path, size=48, crop="random_square_crop", flip=False, seed=seed)
        out = np.round(out.get_single_element().numpy() * 255).astype(np.uint8)
        found = _find_window(photo, out)
        assert found, f"seed {seed}: output is not a window of the source"
        offsets.update(found)
    assert len({x for _, x in offsets}) >= 3  # the position is random


def test_random_square_crop_upscales_small_images_first(tmp_path, val_files):
    # 30 x 45 with target 48: resized up to 48 x 72 (aspect kept), then a 48 x 48 window.
    photo = _small_photo(val_files[3], 30, 45)
    path = _save(photo, tmp_path / "tiny.png")
    up = tf.image.resize(photo.astype(np.float32) / 255, (48, 72), "bilinear", antialias=True)
    up = np.clip(up.numpy(), 0, 1)
    for crop in ("random_square_crop", "random_crop"):
        out = I.image_dataset(path, size=48, crop=crop, flip=False, seed=5).get_single_element()
        out = out.numpy()
        matches = [x for x in range(72 - 48 + 1) if np.allclose(up[:, x : x + 48], out, atol=1e-6)]
        assert matches, crop
    # The upscaled picture itself matches Pillow's bilinear enlargement.
    np.testing.assert_allclose(up, _pil_resize(photo, 48, 72), atol=PIL_RESIZE_TOL)


def test_random_crop_is_an_unresampled_window(tmp_path, val_files):
    photo = _small_photo(val_files[5], 60, 90)
    path = _save(photo, tmp_path / "p.png")
    offsets = set()
    for seed in range(4):
        out = I.image_dataset(path, size=(40, 56), crop="random_crop", flip=False, seed=seed)
        out = np.round(out.get_single_element().numpy() * 255).astype(np.uint8)
        assert out.shape == (40, 56, 3)
        found = _find_window(photo, out)
        assert found, f"seed {seed}: output is not a window of the source"
        offsets.update(found)
    assert len(offsets) >= 2


# === Randomness, determinism and order ===


def test_same_seed_same_stream_and_different_seed_differs(val_files, small_files):
    files = val_files[:1] + small_files[:4]

    def run(seed, parallel=tf.data.AUTOTUNE):
        ds = I.image_dataset(
            files, size=40, batch_size=3, shuffle=True, seed=seed, num_parallel_calls=parallel
        )
        return np.concatenate(_collect(ds))

    first = run(11)
    np.testing.assert_array_equal(first, run(11))
    np.testing.assert_array_equal(first, run(11, parallel=1))  # independent of parallelism
    assert not np.array_equal(first, run(12))


def test_each_epoch_draws_new_crops_and_unseeded_runs_differ(small_files):
    ds = I.image_dataset(small_files[:3], size=40, seed=4)
    epoch_1, epoch_2 = np.stack(_collect(ds)), np.stack(_collect(ds))
    assert not np.array_equal(epoch_1, epoch_2)
    fresh = I.image_dataset(small_files[:3], size=40, seed=4)
    np.testing.assert_array_equal(np.stack(_collect(fresh)), epoch_1)
    unseeded = [np.stack(_collect(I.image_dataset(small_files[:3], size=40))) for _ in range(2)]
    assert not np.array_equal(*unseeded)


def test_flips_are_mirror_images_and_seeded(photos_dir):
    files = I.list_image_files(photos_dir / "small")[:12]
    plain = _collect(I.image_dataset(files, size=32, crop="center_crop", flip=False))
    flipped = _collect(I.image_dataset(files, size=32, crop="center_crop", flip=True, seed=8))
    mirrored = [np.array_equal(f, p[:, ::-1]) for f, p in zip(flipped, plain)]
    same = [np.array_equal(f, p) for f, p in zip(flipped, plain)]
    assert all(m or s for m, s in zip(mirrored, same))
    assert any(mirrored) and any(same)
    again = _collect(I.image_dataset(files, size=32, crop="center_crop", flip=True, seed=8))
    np.testing.assert_array_equal(np.stack(again), np.stack(flipped))


def test_shuffle_is_a_seeded_permutation(photos_dir):
    files = I.list_image_files(photos_dir / "small")[:12]

    def order(seed):
        ds = I.image_dataset(files, size=8, crop="resize", shuffle=True, seed=seed,
                             with_paths=True)
        return [p.decode() for _, p in ds.as_numpy_iterator()]

    a = order(1)
    assert sorted(a) == sorted(files) and a != files
    assert order(1) == a and order(2) != a
    unshuffled = I.image_dataset(files, size=8, crop="resize", with_paths=True)
    assert [p.decode() for _, p in unshuffled.as_numpy_iterator()] == files


def test_repeat_and_drop_remainder(val_files):
    ds = I.image_dataset(val_files[:3], size=16, batch_size=2, repeat=True, seed=0)
    assert [b.shape[0] for b in _collect(ds.take(4))] == [2, 2, 2, 2]
    ds = I.image_dataset(val_files[:5], size=16, batch_size=2, drop_remainder=True)
    assert ds.element_spec.shape.as_list() == [2, 16, 16, 3]
    assert len(_collect(ds)) == 2


# === TFRecords ===


def test_tfrecord_round_trip_equals_folder_pixels(tmp_path, val_files, small_files):
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for p in val_files[:2] + small_files[:2]:
        shutil.copy(p, folder / os.path.basename(p))
    _save(_small_photo(val_files[3], 36, 50), folder / "nested" / "x.png")
    rgba = np.dstack([_small_photo(val_files[4], 36, 50), np.full((36, 50), 128, np.uint8)])
    _save(rgba, folder / "nested" / "y.webp", "WEBP", lossless=True, exact=True)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")

    with pytest.warns(I.UnreadableImageWarning, match="broken.jpg"):
        shards = I.write_tfrecords(folder, tmp_path / "shards", shard_size=2, prefix="set")
    assert [os.path.basename(s) for s in shards] == [
        f"set-{i:05d}-of-00003.tfrecord" for i in range(3)
    ]
    records = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(shards)]
    names = [r.features.feature["image/filename"].bytes_list.value[0].decode() for r in records]
    good = [p for p in I.list_image_files(folder) if not p.endswith("broken.jpg")]
    assert names == [os.path.relpath(p, folder).replace(os.sep, "/") for p in good]
    for record, path in zip(records, good):  # bytes stored as they are
        feature = record.features.feature
        assert feature["image/encoded"].bytes_list.value[0] == pathlib.Path(path).read_bytes()
    assert {r.features.feature["image/format"].bytes_list.value[0] for r in records} == {
        b"jpeg", b"png", b"webp"
    }

    # The folder minus the file that write_tfrecords left out is what the shards hold (a skipped
    # file still uses up its per-element random key, so it would shift the random crops).
    (folder / "broken.jpg").unlink()
    folder_native = _collect(I.image_dataset(folder, crop=None, flip=False))
    folder_random = _collect(I.image_dataset(folder, size=32, batch_size=2, seed=9))
    for source in (shards, str(tmp_path / "shards" / "*.tfrecord")):
        native = _collect(I.image_dataset(source, crop=None, flip=False))
        assert len(native) == len(folder_native) == 6
        for a, b in zip(native, folder_native):
            np.testing.assert_array_equal(a, b)
        # Same seed, same order -> same random crops and flips as the folder pipeline.
        shards_random = _collect(I.image_dataset(source, size=32, batch_size=2, seed=9))
        np.testing.assert_array_equal(np.concatenate(shards_random), np.concatenate(folder_random))
    _, stored = _with_paths(I.image_dataset(shards, crop=None, with_paths=True))
    assert stored == names


def test_tfrecord_bad_record_is_skipped_and_named(tmp_path, val_files):
    shards = I.write_tfrecords(val_files[:2], tmp_path, prefix="ok")
    feature = {
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"garbage"])),
        "image/filename": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"bad/one.jpg"])),
    }
    bad_shard = str(tmp_path / "bad.tfrecord")
    with tf.io.TFRecordWriter(bad_shard) as writer:
        writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    with pytest.warns(I.UnreadableImageWarning, match="bad/one.jpg"):
        images = _collect(I.image_dataset(shards + [bad_shard], size=24))
    assert len(images) == 2


def test_shuffled_tfrecords_cover_every_image_once(tmp_path, photos_dir):
    files = I.list_image_files(photos_dir / "small")[:10]
    shards = I.write_tfrecords(files, tmp_path, shard_size=3, validate=False)
    assert len(shards) == 4
    ds = I.image_dataset(shards, size=8, crop="resize", shuffle=True, seed=0, with_paths=True)
    names = [p.decode() for _, p in ds.as_numpy_iterator()]
    assert sorted(names) == sorted(os.path.basename(f) for f in files)
    assert names != [os.path.basename(f) for f in files]


# === Distribution ===


def _input_context(pipelines, pipeline_id):
    return tf.distribute.InputContext(
        num_input_pipelines=pipelines, input_pipeline_id=pipeline_id,
        num_replicas_in_sync=pipelines,
    )


def test_input_context_shards_files_disjointly(photos_dir, tmp_path):
    files = I.list_image_files(photos_dir / "small")[:10]
    parts = []
    for pipeline_id in range(3):
        ds = I.image_dataset(
            files, size=8, crop="resize", shuffle=True, seed=1, with_paths=True,
            batch_size=6, input_context=_input_context(3, pipeline_id),
        )
        batches = list(ds.as_numpy_iterator())
        assert max(len(p) for _, p in batches) == 2  # global batch 6 over 3 replicas
        parts.append([p.decode() for _, paths in batches for p in paths])
    assert [len(p) for p in parts] == [4, 3, 3]
    assert sorted(sum(parts, [])) == sorted(files)  # disjoint and complete
    # TFRecords with fewer shards (2) than pipelines (3) are split by record instead.
    shards = I.write_tfrecords(files, tmp_path, shard_size=5, validate=False)
    names = [
        [p.decode() for _, p in I.image_dataset(
            shards, size=8, crop="resize", with_paths=True, input_context=_input_context(3, i)
        ).as_numpy_iterator()]
        for i in range(3)
    ]
    assert sorted(sum(names, [])) == sorted(os.path.basename(f) for f in files)
    assert all(names)
    with pytest.raises(ValueError, match="2 image files cannot feed 3 input pipelines"):
        I.image_dataset(files[:2], input_context=_input_context(3, 0))


def test_works_under_a_distribution_strategy(val_files):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    ds = I.image_dataset(val_files[:4], size=16, batch_size=2, seed=0, drop_remainder=True)
    batches = [
        strategy.experimental_local_results(b)[0].numpy()
        for b in strategy.experimental_distribute_dataset(ds)
    ]
    # A fresh dataset with the same seed is the reference (a second pass over `ds` would be a
    # new epoch with new crops).
    fresh = I.image_dataset(val_files[:4], size=16, batch_size=2, seed=0, drop_remainder=True)
    np.testing.assert_array_equal(np.concatenate(batches), np.concatenate(_collect(fresh)))
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: I.image_dataset(val_files[:4], size=16, batch_size=2, input_context=ctx)
    )
    shapes = [strategy.experimental_local_results(b)[0].shape for b in dist]
    assert shapes == [(2, 16, 16, 3)] * 2
