"""Image pipelines: folders, globs, list files and TFRecord shards -> ``tf.data`` of float32 RGB.

One entry point, :func:`image_dataset`, turns an image source into a plain ``tf.data.Dataset``
of float32 images in ``[0, 1]``, shape ``(H, W, 3)`` (or ``(N, H, W, 3)`` once batched), so it
can be handed to ``model.fit`` or to ``strategy.experimental_distribute_dataset`` as is, or be
built per input pipeline inside ``strategy.distribute_datasets_from_function`` through the
``input_context`` argument. :func:`write_tfrecords` packs a folder into TFRecord shards that read
back to the same pixels; :func:`list_image_files` and :func:`load_image` serve the CLI and the
evaluation code, which work on single files.

Sources (``source=``, resolved by :func:`resolve_source`):

- a folder: every file below it (recursively) whose extension is one of
  :data:`IMAGE_EXTENSIONS` (case-insensitive), sorted by path so the order is deterministic;
- a glob pattern (``"photos/**/*.jpg"``, ``**`` recursive): matches with an image extension,
  sorted; a glob that only matches ``.tfrecord`` files is a TFRecord source;
- a list file (any existing file whose extension is neither an image nor a TFRecord one): one
  path per line, relative paths resolved against the list file's folder, blank lines and lines
  starting with ``#`` ignored, order kept;
- a single image file, a single ``.tfrecord`` file, or a Python list/tuple of paths (folders in
  it are expanded as above). Entries that are all ``.tfrecord`` make a TFRecord source.

Decoding uses TensorFlow ops only (no Python in the hot path): JPEG through
``tf.io.decode_jpeg(channels=3, dct_method="INTEGER_ACCURATE")`` (libjpeg's accurate integer
IDCT, the one Pillow uses, so pixels equal ``PIL.Image.open(f).convert("RGB")``; grayscale and
CMYK JPEGs come out as RGB), every other format through
``tf.io.decode_image(expand_animations=False)``, which in TF 2.21 reads PNG (8 and 16 bit; 16 bit
is reduced to its high byte), WebP (lossy, lossless, with alpha), BMP and GIF (first frame). No
Pillow fallback is needed for any listed format. Channels are then made RGB:
gray -> replicated to RGB; gray+alpha and RGBA -> **composited over a white background**,
``rgb * a + 1 * (1 - a)`` in float, which is what an image viewer shows (dropping alpha would
expose whatever colour an encoder left under transparent pixels, often black or garbage).
EXIF orientation is not applied (neither TF nor ``PIL.Image.open`` applies it), matching the
official PyTorch loaders. Values are ``uint8 / 255`` in float32.

Bad files (unreadable, empty, truncated, or not an image despite the name) never stop a
pipeline: each element is decoded inside a one-element ``tf.data`` sub-dataset with
``ignore_errors()``; when that yields nothing the file is dropped and, with ``on_error="warn"``,
a :class:`UnreadableImageWarning` naming the file (and Pillow's diagnosis of it) is issued once
per file and dataset. Nothing else is lost: the other images come through in their order.

Crop policies (``crop=``, target ``size`` = int or ``(H, W)``; resizing is bilinear with
antialiasing, ``tf.image.resize(..., antialias=True)``, skipped when the size already matches):

- ``"random_square_crop"``: RFR-Net's training crop (``Dataset.resize`` in
  jingyuanli001/RFR-Inpainting ``dataset.py``): a square side drawn uniformly from
  ``[target, short side]``, a uniformly random position, then a resize to the target. The crop
  is never smaller than the target, so it is only ever downsampled; an image whose short side is
  at most the target is first resized up (aspect kept) so its short side equals the target, then
  a target-size window is taken (the official code crops the short-side square, then enlarges).
  The official ``random.randrange(target, side)`` and ``randrange(0, h - side)`` exclude their
  upper ends (so it never takes the full short side nor the last offset); here both ends are
  included. For a non-square target ``(H, W)`` the crop has the target's aspect ratio, its
  height drawn from ``[H, largest height that fits]``.
- ``"center_crop"``: the largest central square (target aspect) crop, then a resize (RFR's test
  crop, the usual face-dataset crop).
- ``"resize"``: a plain resize to the target; the aspect ratio is not kept.
- ``"random_crop"``: a uniformly placed target-size window; images smaller than the target in
  either dimension are first resized up (aspect kept) until the window fits.
- ``None``: native size, no resize (``batch_size`` must then be ``None`` or 1).

Randomness (crop position and size, horizontal flips with ``flip=True``) uses stateless random
ops keyed per element. The keys come from ``tf.data.Dataset.random(seed,
rerandomize_each_iteration=True)`` zipped with the file stream *before* the parallel map, so with
a ``seed`` the stream is identical whatever the parallelism (and ``deterministic=True`` keeps the
order), a fresh dataset built with the same seed repeats it exactly, and each new epoch (each new
iteration or ``repeat``) draws new crops and flips. Without a seed every run differs.

Example:

```python
ds = image_dataset("photos/train", size=256, crop="random_square_crop", flip=True,
                   batch_size=6, shuffle=True, repeat=True, seed=0)
images = next(iter(ds))  # float32 (6, 256, 256, 3) in [0, 1]
```
"""

from __future__ import annotations

import dataclasses
import glob as glob_lib
import hashlib
import io
import math
import os
import threading
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

__all__ = [
    "CROP_POLICIES",
    "IMAGE_EXTENSIONS",
    "TFRECORD_EXTENSIONS",
    "ImageSource",
    "UnreadableImageWarning",
    "crop_image",
    "decode_image",
    "image_dataset",
    "image_from_bytes",
    "list_image_files",
    "load_image",
    "resolve_source",
    "write_tfrecords",
]

#: Extensions picked up by folder and glob sources (compared lower-cased).
IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png", ".webp")
#: Extensions that mark TFRecord shards.
TFRECORD_EXTENSIONS = (".tfrecord", ".tfrecords")
#: Accepted values of ``crop=``.
CROP_POLICIES = ("random_square_crop", "center_crop", "resize", "random_crop", None)
_ON_ERROR = ("warn", "skip", "raise")

# TFRecord feature keys (the TF Object Detection API's names for the same fields).
_KEY_ENCODED = "image/encoded"
_KEY_FILENAME = "image/filename"
_KEY_FORMAT = "image/format"
_TFRECORD_FEATURES = {
    _KEY_ENCODED: tf.io.FixedLenFeature([], tf.string),
    _KEY_FILENAME: tf.io.FixedLenFeature([], tf.string, default_value=""),
    _KEY_FORMAT: tf.io.FixedLenFeature([], tf.string, default_value=""),
}
# Records held by the shuffle buffer of a TFRecord source when ``shuffle_buffer`` is not given
# (encoded images of ~100 kB: ~100 MB). Folder sources shuffle the whole (cheap) path list.
_DEFAULT_RECORD_SHUFFLE_BUFFER = 1024


class UnreadableImageWarning(UserWarning):
    """Issued once per image file that a pipeline skipped because it could not be decoded."""


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImageSource:
    """A resolved image source.

    Attributes:
        kind: ``"files"`` (encoded image files) or ``"tfrecord"`` (shards written by
            :func:`write_tfrecords`).
        paths: the image files or shard files, in reading order.
        root: folder that stored file names are made relative to (:func:`write_tfrecords`).
        description: the source as the user gave it, for error messages.
    """

    kind: str
    paths: tuple[str, ...]
    root: str
    description: str


def _ext(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _is_image_name(path: str) -> bool:
    return _ext(path) in IMAGE_EXTENSIONS


def _is_tfrecord_name(path: str) -> bool:
    return _ext(path) in TFRECORD_EXTENSIONS


def _has_glob_magic(text: str) -> bool:
    return any(c in text for c in "*?[")


def _scan_folder(folder: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        found.extend(os.path.join(dirpath, f) for f in filenames if _is_image_name(f))
    return sorted(found)


def _read_list_file(path: str) -> list[str]:
    base = os.path.dirname(os.path.abspath(path))
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            entries.append(line if os.path.isabs(line) else os.path.join(base, line))
    return entries


def _classify(entries: list[str], description: str) -> str:
    tfrecords = [_is_tfrecord_name(p) for p in entries]
    if all(tfrecords):
        return "tfrecord"
    if any(tfrecords):
        bad = next(p for p, t in zip(entries, tfrecords) if t)
        raise ValueError(
            "An image source mixes TFRecord shards and image files; give one or the other. "
            f"Received: source={description} (e.g. {bad})"
        )
    return "files"


def resolve_source(source) -> ImageSource:
    """Resolves ``source`` (folder, glob, list file, file, or list of paths) to its files.

    Raises:
        FileNotFoundError: a path that does not exist, or a glob that matches nothing.
        ValueError: no images found, or a mix of TFRecord shards and image files.
    """
    if isinstance(source, ImageSource):
        return source
    description = repr(source)
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if os.path.isdir(text):
            paths, root = _scan_folder(text), text
        elif os.path.isfile(text):
            if _is_image_name(text) or _is_tfrecord_name(text):
                paths, root = [text], os.path.dirname(text)
            else:
                paths, root = _read_list_file(text), os.path.dirname(os.path.abspath(text))
        elif _has_glob_magic(text):
            matches = sorted(p for p in glob_lib.glob(text, recursive=True) if os.path.isfile(p))
            if not matches:
                raise FileNotFoundError(f"Glob pattern matched no file. Received: source={text!r}")
            shards = [p for p in matches if _is_tfrecord_name(p)]
            paths = shards if len(shards) == len(matches) else [
                p for p in matches if _is_image_name(p)
            ]
            root = _common_dir(paths) if paths else ""
        else:
            raise FileNotFoundError(
                f"Image source not found (not a folder, file or glob). Received: source={text!r}"
            )
    elif isinstance(source, Sequence) and not isinstance(source, bytes):
        paths = []
        for item in source:
            if not isinstance(item, (str, os.PathLike)):
                raise TypeError(
                    f"Image source lists must hold paths. Received: item={item!r} "
                    f"of type {type(item).__name__}"
                )
            item = os.fspath(item)
            paths.extend(_scan_folder(item) if os.path.isdir(item) else [item])
        root = _common_dir(paths) if paths else ""
    else:
        raise TypeError(
            "source must be a folder, glob, list file, image/TFRecord file or a list of paths. "
            f"Received: source={source!r} of type {type(source).__name__}"
        )
    if not paths:
        raise ValueError(
            f"No image files found (extensions {', '.join(IMAGE_EXTENSIONS)}, case-insensitive)."
            f" Received: source={description}"
        )
    kind = _classify(paths, description)
    return ImageSource(kind=kind, paths=tuple(paths), root=root, description=description)


def _common_dir(paths: Sequence[str]) -> str:
    dirs = [os.path.dirname(os.path.abspath(p)) for p in paths]
    try:
        return os.path.commonpath(dirs)
    except ValueError:  # different drives (Windows)
        return ""


def list_image_files(source) -> list[str]:
    """Lists the image files of a folder, glob, list file, file or list of paths, in order.

    Folders are searched recursively for :data:`IMAGE_EXTENSIONS` (case-insensitive) and sorted;
    list files and lists keep their order. TFRecord sources are rejected (they hold records, not
    files).
    """
    resolved = resolve_source(source)
    if resolved.kind == "tfrecord":
        raise ValueError(
            "list_image_files lists image files; this source is TFRecord shards "
            f"(read them with image_dataset). Received: source={resolved.description}"
        )
    return list(resolved.paths)


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------

_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)


def _sniff_format(data: bytes) -> str:
    """Container format from the magic bytes (``"unknown"`` when none matches)."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return "unknown"


def _to_rgb_float(image: tf.Tensor) -> tf.Tensor:
    """uint8 ``(H, W, C)``, C in 1..4 -> float32 RGB in [0, 1]; alpha composited over white."""
    image = tf.cast(image, tf.float32) / 255.0
    channels = tf.shape(image)[-1]

    def gray():
        return tf.tile(image[..., :1], [1, 1, 3])

    def gray_alpha():
        alpha = image[..., 1:2]
        return tf.tile(image[..., :1], [1, 1, 3]) * alpha + (1.0 - alpha)

    def rgb():
        return image[..., :3]

    def rgba():
        alpha = image[..., 3:4]
        return image[..., :3] * alpha + (1.0 - alpha)

    # decode_image only returns 1..4 channels; clamp so the index is always valid.
    branch = tf.clip_by_value(channels - 1, 0, 3)
    out = tf.switch_case(branch, [gray, gray_alpha, rgb, rgba])
    return tf.ensure_shape(out, [None, None, 3])


def decode_image(data: tf.Tensor) -> tf.Tensor:
    """Decodes encoded image bytes (scalar string tensor) to float32 RGB ``(H, W, 3)`` in [0, 1].

    Graph-compatible (TF ops only). See the module docstring for the per-format decoders and the
    channel rules (gray -> RGB, alpha composited over white). Raises ``InvalidArgumentError`` on
    bytes that are not a decodable image (inside :func:`image_dataset` such files are skipped).
    """
    data = tf.convert_to_tensor(data, tf.string)

    def jpeg():
        # channels=3 turns grayscale and CMYK JPEGs into RGB inside libjpeg; INTEGER_ACCURATE is
        # libjpeg's default (JDCT_ISLOW), the IDCT that Pillow and OpenCV use.
        return tf.cast(tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
                       tf.float32) / 255.0

    def other():
        decoded = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=False)
        return _to_rgb_float(decoded)

    image = tf.cond(tf.io.is_jpeg(data), jpeg, other)
    return tf.ensure_shape(image, [None, None, 3])


_decode_fn_lock = threading.Lock()
_decode_fn: Callable | None = None


def _eager_decoder() -> Callable:
    global _decode_fn
    with _decode_fn_lock:
        if _decode_fn is None:
            _decode_fn = tf.function(
                decode_image, input_signature=[tf.TensorSpec([], tf.string)], autograph=False
            )
        return _decode_fn


def _diagnose(data: bytes | None, path: str | None = None) -> str:
    """Best human-readable reason why an image could not be decoded (Python side, slow path)."""
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            return f"cannot be read ({e.strerror or e})"
    if not data:
        return "file is empty"
    fmt = _sniff_format(data)
    if fmt == "unknown":
        return "not a JPEG, PNG, WebP, BMP or GIF file (unrecognized header)"
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except Exception as e:  # noqa: BLE001 - any Pillow failure is the diagnosis
        return f"corrupt or truncated {fmt.upper()} data ({type(e).__name__}: {e})"
    return f"{fmt.upper()} data that TensorFlow cannot decode"


def load_image(path) -> np.ndarray:
    """Reads one image file as uint8 RGB ``(H, W, 3)``, with the same decoder as the pipelines.

    ``load_image(p) == round(255 * x)`` where ``x`` is what :func:`image_dataset` yields for
    ``p`` with ``crop=None`` (identical for opaque 8-bit images).

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: the file is not a decodable image (the message names it and says why).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"Image file not found: {path}") from None
    except OSError as e:
        raise ValueError(f"Image file {path} cannot be read: {e.strerror or e}") from e
    return image_from_bytes(data, f"Image file {path}")


def image_from_bytes(data: bytes, name: str = "image") -> np.ndarray:
    """Decodes an image file's bytes as uint8 RGB ``(H, W, 3)``, as :func:`load_image` does.

    The decoder of :func:`load_image` (and so of ``tfinpaint inpaint``) for bytes that did not
    come from a file on disk, such as an upload to ``tfinpaint ui``.

    Raises:
        ValueError: ``"{name} cannot be decoded: {reason}"`` for bytes that are not a decodable
            image.
    """
    try:
        image = _eager_decoder()(tf.constant(bytes(data)))
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
        raise ValueError(f"{name} cannot be decoded: {_diagnose(bytes(data))}") from e
    return np.round(image.numpy() * 255.0).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Crops and flips
# ---------------------------------------------------------------------------------------------


def _normalize_size(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    elif (
        isinstance(size, Sequence)
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size)
    ):
        size = (int(size[0]), int(size[1]))
    else:
        raise ValueError(f"size must be an int or a pair (height, width). Received: size={size!r}")
    if min(size) < 1:
        raise ValueError(f"size must be positive. Received: size={size!r}")
    return size


def _ceil_div(a, b):
    return (a + b - 1) // b


def _resize(image: tf.Tensor, height, width) -> tf.Tensor:
    """Bilinear + antialias resize; the identity (bit-exact) when the size already matches."""
    shape = tf.shape(image)
    same = tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width))
    return tf.cond(
        same,
        lambda: tf.identity(image),
        lambda: tf.image.resize(image, tf.stack([height, width]), "bilinear", antialias=True),
    )


def _uniform_int(seed, low, high_inclusive):
    """One integer uniform in ``[low, high_inclusive]`` from a stateless seed."""
    return tf.random.stateless_uniform(
        [], seed, minval=low, maxval=high_inclusive + 1, dtype=tf.int32
    )


def _square_crop_box(h, w, th, tw, seed):
    """RFR's crop box on an ``h x w`` image that fits at least one ``th x tw`` window.

    Returns ``(y, x, crop_h, crop_w)``: ``crop_h`` uniform in ``[th, min(h, w * th / tw)]``
    (inclusive; for a square target that is ``[target, short side]``), ``crop_w`` the matching
    width for the target aspect, and a uniformly random position. ``crop_h >= th`` always, so
    the resize that follows never upsamples.
    """
    fit_h = tf.maximum(tf.minimum(h, (w * th) // tw), th)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    crop_h = _uniform_int(seeds[0], th, fit_h)
    crop_w = tf.clip_by_value(tf.cast(tf.round(crop_h * tw / th), tf.int32), tw, w)
    y = _uniform_int(seeds[1], 0, h - crop_h)
    x = _uniform_int(seeds[2], 0, w - crop_w)
    return y, x, crop_h, crop_w


def _upscale_to_fit(image, th, tw):
    """Resizes up (aspect kept, by ``max(th / h, tw / w)``) when a ``th x tw`` window does not fit.

    The limiting side becomes exactly the target and the other one at least its target, so a
    ``th x tw`` window (and, for the square policy, a crop of height ``th``) always fits after.
    """
    shape = tf.shape(image)
    h, w = shape[0], shape[1]

    def upscale():
        height_limits = h * tw <= w * th
        new_h = tf.where(height_limits, th, tf.maximum(th, _ceil_div(h * tw, w)))
        new_w = tf.where(height_limits, tf.maximum(tw, _ceil_div(w * th, h)), tw)
        return tf.image.resize(image, tf.stack([new_h, new_w]), "bilinear", antialias=True)

    return tf.cond(tf.logical_or(h < th, w < tw), upscale, lambda: tf.identity(image))


def _random_square_crop(image, th, tw, seed):
    image = _upscale_to_fit(image, th, tw)
    shape = tf.shape(image)
    y, x, crop_h, crop_w = _square_crop_box(shape[0], shape[1], th, tw, seed)
    return _resize(image[y : y + crop_h, x : x + crop_w], th, tw)


def _center_crop(image, th, tw):
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    crop_h = tf.minimum(h, tf.cast(tf.round(w * th / tw), tf.int32))
    crop_w = tf.minimum(w, tf.cast(tf.round(h * tw / th), tf.int32))
    y, x = (h - crop_h) // 2, (w - crop_w) // 2
    return _resize(image[y : y + crop_h, x : x + crop_w], th, tw)


def _random_crop(image, th, tw, seed):
    image = _upscale_to_fit(image, th, tw)
    return tf.image.stateless_random_crop(image, tf.stack([th, tw, 3]), seed)


def crop_image(image: tf.Tensor, size, crop: str | None, seed: tf.Tensor | None = None):
    """Applies one crop policy to a float image ``(H, W, 3)`` (see the module docstring).

    Args:
        image: float32 ``(H, W, 3)`` tensor.
        size: target, int or ``(height, width)``. Ignored when ``crop`` is ``None``.
        crop: one of :data:`CROP_POLICIES`.
        seed: int32/int64 tensor of shape ``[2]`` for the stateless random policies
            (``"random_square_crop"``, ``"random_crop"``); required by them.

    Returns:
        float32 ``(H', W', 3)`` in [0, 1].
    """
    if crop not in CROP_POLICIES:
        raise ValueError(f"crop must be one of {CROP_POLICIES}. Received: crop={crop!r}")
    if crop is None:
        return image
    th, tw = _normalize_size(size)
    if crop in ("random_square_crop", "random_crop") and seed is None:
        raise ValueError(f"crop={crop!r} needs a stateless seed tensor of shape [2].")
    if crop == "random_square_crop":
        out = _random_square_crop(image, th, tw, seed)
    elif crop == "random_crop":
        out = _random_crop(image, th, tw, seed)
    elif crop == "center_crop":
        out = _center_crop(image, th, tw)
    else:  # "resize"
        out = _resize(image, th, tw)
    # Antialiased resizing can overshoot by float rounding; keep the [0, 1] contract exact.
    return tf.ensure_shape(tf.clip_by_value(out, 0.0, 1.0), [th, tw, 3])


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------


def _derive_seed(seed: int, salt: str) -> int:
    digest = hashlib.sha256(f"{int(seed)}/{salt}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class _BadFileReporter:
    """Python side of the skip mechanism: one warning per skipped file (and dataset)."""

    def __init__(self, source_kind: str):
        self._source_kind = source_kind
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, label, data) -> bool:
        label = label.numpy().decode("utf-8", "replace")
        with self._lock:
            if label in self._seen:
                return False
            self._seen.add(label)
        if self._source_kind == "files":
            reason = _diagnose(None, label)
            what = f"image file {label}"
        else:
            reason = _diagnose(data.numpy())
            what = f"TFRecord image {label!r}"
        warnings.warn(
            f"Skipping unreadable {what}: {reason}.", UnreadableImageWarning, stacklevel=1
        )
        return False


def image_dataset(
    source,
    size=256,
    crop: str | None = "random_square_crop",
    flip: bool = True,
    batch_size: int | None = None,
    shuffle: bool = False,
    repeat: bool = False,
    seed: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    drop_remainder: bool = False,
    shuffle_buffer: int | None = None,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    prefetch: int | None = tf.data.AUTOTUNE,
    deterministic: bool = True,
    with_paths: bool = False,
    on_error: str = "warn",
) -> tf.data.Dataset:
    """Builds a ``tf.data`` pipeline of float32 RGB images in ``[0, 1]`` from an image source.

    Stages: file list (or shard list) -> ``shard(input_context)`` -> seeded ``shuffle`` ->
    ``repeat`` -> per-element stateless keys -> parallel read + decode + crop + flip (bad files
    skipped) -> ``batch`` -> ``prefetch``.

    Args:
        source: folder, glob, list file, image or ``.tfrecord`` file, or list of paths (see the
            module docstring).
        size: target size, int or ``(height, width)``. Defaults to `256`. Ignored for
            ``crop=None``.
        crop: crop policy, one of :data:`CROP_POLICIES`. Defaults to `"random_square_crop"`.
        flip: random horizontal flips (probability 0.5). Defaults to `True`.
        batch_size: batch size, or ``None`` for unbatched ``(H, W, 3)`` elements. With
            ``input_context`` this is the *global* batch size; each pipeline batches
            ``input_context.get_per_replica_batch_size(batch_size)``.
        shuffle: shuffle the files (TFRecord: the shards, then the records through a buffer).
        repeat: repeat forever (each epoch reshuffled and re-augmented).
        seed: makes shuffling, crops and flips deterministic. ``None``: random each run.
        input_context: a ``tf.distribute.InputContext`` (from
            ``strategy.distribute_datasets_from_function``); the file list is sharded with
            ``shard(num_input_pipelines, input_pipeline_id)`` so pipelines read disjoint files.
            TFRecord sources with fewer shard files than pipelines are sharded by record.
        drop_remainder: drop the last incomplete batch (static batch dimension).
        shuffle_buffer: shuffle buffer size. Defaults to the number of files for file sources
            and 1024 records for TFRecord sources.
        num_parallel_calls: parallelism of the decode stage. Defaults to ``tf.data.AUTOTUNE``.
        prefetch: prefetch buffer (``None`` for no prefetch). Defaults to ``tf.data.AUTOTUNE``.
        deterministic: keep the element order of the parallel stages. Defaults to `True`.
        with_paths: yield ``(image, path)`` pairs (TFRecord: the stored file name).
        on_error: what happens to a file that cannot be read or decoded: ``"warn"`` (skip it
            and warn once, naming it), ``"skip"`` (skip silently; no Python in the graph, so the
            dataset can be serialized), or ``"raise"`` (the error stops the iteration).

    Returns:
        A ``tf.data.Dataset`` of float32 ``(H, W, 3)`` (or ``(N, H, W, 3)``) images in [0, 1]
        (plus string paths with ``with_paths``).
    """
    if crop not in CROP_POLICIES:
        raise ValueError(f"crop must be one of {CROP_POLICIES}. Received: crop={crop!r}")
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be one of {_ON_ERROR}. Received: on_error={on_error!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) < 1):
        raise ValueError(f"batch_size must be a positive int or None. Received: {batch_size=}")
    th, tw = _normalize_size(size) if crop is not None else (None, None)
    if input_context is not None and batch_size is not None:
        batch_size = input_context.get_per_replica_batch_size(int(batch_size))
    if crop is None and batch_size not in (None, 1):
        raise ValueError(
            "crop=None keeps each image's native size, so images cannot be batched together; "
            f"use batch_size=None or 1, or a crop policy. Received: batch_size={batch_size}"
        )
    if shuffle_buffer is not None and int(shuffle_buffer) < 1:
        raise ValueError(f"shuffle_buffer must be positive. Received: {shuffle_buffer=}")

    resolved = resolve_source(source)
    paths = list(resolved.paths)
    n_pipelines = input_context.num_input_pipelines if input_context is not None else 1
    pipeline_id = input_context.input_pipeline_id if input_context is not None else 0
    shuffle_seed = _derive_seed(seed, "shuffle") if seed is not None else None
    key_seed = _derive_seed(seed, "augment") if seed is not None else None

    # === Items: file paths, or (file name, encoded bytes) records ===
    names = tf.data.Dataset.from_tensor_slices(paths)
    if resolved.kind == "files":
        if len(paths) < n_pipelines:
            raise ValueError(
                f"{len(paths)} image files cannot feed {n_pipelines} input pipelines (each needs "
                f"at least one file). Received: source={resolved.description}"
            )
        if n_pipelines > 1:
            names = names.shard(n_pipelines, pipeline_id)
        if shuffle:
            buffer = int(shuffle_buffer) if shuffle_buffer is not None else len(paths)
            names = names.shuffle(buffer, seed=shuffle_seed, reshuffle_each_iteration=True)
        items = names
    else:
        by_file = n_pipelines > 1 and len(paths) >= n_pipelines
        if by_file:
            names = names.shard(n_pipelines, pipeline_id)
        if shuffle:
            names = names.shuffle(len(paths), seed=shuffle_seed, reshuffle_each_iteration=True)
            # Mix records of several shards (then the record buffer shuffles further).
            records = names.interleave(
                tf.data.TFRecordDataset,
                cycle_length=min(len(paths), 8),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=deterministic,
            )
        else:
            # Shard after shard, keeping the written (source) order; decoding is the parallel
            # stage, reading encoded bytes sequentially is not the bottleneck.
            records = names.flat_map(tf.data.TFRecordDataset)
        if n_pipelines > 1 and not by_file:
            records = records.shard(n_pipelines, pipeline_id)
        if shuffle:
            buffer = int(shuffle_buffer or _DEFAULT_RECORD_SHUFFLE_BUFFER)
            records = records.shuffle(buffer, seed=shuffle_seed, reshuffle_each_iteration=True)
        items = records
    if repeat:
        items = items.repeat()

    # === Items as (label, data): file paths with data read later, or parsed records ===
    from_files = resolved.kind == "files"
    if from_files:
        items = items.map(lambda path: (path, tf.constant(b"")))
    else:
        items = items.map(_parse_record, num_parallel_calls=num_parallel_calls,
                          deterministic=deterministic)
        # A record that does not parse has no name to report; TF logs it and it is dropped.
        items = items.ignore_errors(log_warning=True) if on_error != "raise" else items

    # === Per-element stateless keys, attached before any parallel stage ===
    keys = tf.data.Dataset.random(seed=key_seed, rerandomize_each_iteration=True)
    elements = tf.data.Dataset.zip((items, keys)).map(
        lambda item, key: (item[0], item[1], key)
    )

    def load(label, data, key):
        if from_files:
            data = tf.io.read_file(label)
        image = decode_image(data)
        seeds = tf.random.experimental.stateless_split(
            tf.stack([key, tf.constant(0, tf.int64)]), 2
        )
        if crop is not None:
            image = crop_image(image, (th, tw), crop, seed=seeds[0])
        if flip:
            image = tf.image.stateless_random_flip_left_right(image, seeds[1])
        return image, label

    if on_error == "raise":
        images = elements.map(
            load, num_parallel_calls=num_parallel_calls, deterministic=deterministic
        )
    else:
        reporter = _BadFileReporter(resolved.kind) if on_error == "warn" else None
        images = _skip_bad(elements, load, reporter, num_parallel_calls, deterministic,
                           max_bad_in_a_row=len(paths) if from_files else None)
    out_shape = [th, tw, 3] if crop is not None else [None, None, 3]
    images = images.map(
        lambda image, label: (tf.ensure_shape(image, out_shape), label),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )
    if not with_paths:
        images = images.map(lambda image, label: image)
    if batch_size is not None:
        images = images.batch(
            int(batch_size),
            drop_remainder=drop_remainder,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=deterministic,
        )
    if prefetch is not None:
        images = images.prefetch(prefetch)
    return images


def _parse_record(record):
    parsed = tf.io.parse_single_example(record, _TFRECORD_FEATURES)
    return parsed[_KEY_FILENAME], parsed[_KEY_ENCODED]


def _skip_bad(elements, load, reporter, num_parallel_calls, deterministic,
              max_bad_in_a_row=None):
    """Runs ``load`` per element so that a failing element is dropped, and reported if asked.

    Each element goes through a one-element sub-dataset ``map(load).ignore_errors()``; a
    sentinel ``(empty image, label, ok=False)`` is concatenated and the first element taken, so
    a failed decode becomes a flagged element that still carries the file's name (a plain
    ``map(...).ignore_errors()`` drops the element without saying which file it was). Flagged
    elements are filtered out, after ``reporter(label, data)`` warned about them.

    ``max_bad_in_a_row`` (the number of files): that many failures in a row mean a whole pass
    over the files gave nothing, so the dataset fails (``InvalidArgumentError`` saying so)
    instead of repeating forever without yielding (a training run would never take a step).
    """

    def guarded(label, data, key):
        good = (
            tf.data.Dataset.from_tensors((label, data, key))
            .map(load)
            .ignore_errors()
            .map(lambda image, name: (image, name, data, tf.constant(True)))
        )
        sentinel = tf.data.Dataset.from_tensors(
            (tf.zeros([0, 0, 3], tf.float32), label, data, tf.constant(False))
        )
        return good.concatenate(sentinel).take(1)

    flagged = elements.interleave(
        guarded,
        cycle_length=16,
        block_length=1,
        num_parallel_calls=num_parallel_calls,
        deterministic=deterministic,
    )

    def keep(image, label, data, ok):
        if reporter is None:
            return ok
        return tf.cond(
            ok,
            lambda: tf.constant(True),
            lambda: tf.py_function(reporter, [label, data], tf.bool),
        )

    if max_bad_in_a_row:
        limit = tf.constant(int(max_bad_in_a_row), tf.int64)

        def count(bad_run, element):
            image, label, data, ok = element
            bad_run = tf.where(ok, tf.constant(0, tf.int64), bad_run + 1)
            check = tf.debugging.assert_less_equal(  # fails on the first file of the 2nd pass
                bad_run, limit,
                message=f"none of the {int(max_bad_in_a_row)} image file(s) could be read or "
                        "decoded (each failed, see the warnings naming them): nothing to "
                        "train or evaluate on; check the image folder",
            )
            with tf.control_dependencies([check]):
                return bad_run, (tf.identity(image), label, data, ok)

        flagged = flagged.scan(tf.constant(0, tf.int64), count)
    return flagged.filter(keep).map(lambda image, label, data, ok: (image, label))


# ---------------------------------------------------------------------------------------------
# TFRecord writer
# ---------------------------------------------------------------------------------------------


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def write_tfrecords(
    source,
    out_dir,
    shard_size: int = 1000,
    prefix: str = "images",
    validate: bool = True,
) -> list[str]:
    """Packs the images of a source into TFRecord shards; returns the shard paths in order.

    Each record is a ``tf.train.Example`` with ``image/encoded`` (the file's bytes as they are,
    not re-encoded), ``image/filename`` (path relative to the source folder, ``/``-separated)
    and ``image/format`` (``jpeg``, ``png``, ``webp``, ``bmp``, ``gif``). Shards are named
    ``{prefix}-{i:05d}-of-{n:05d}.tfrecord`` and hold ``shard_size`` records each (the last one
    fewer), in the source's order, so ``image_dataset(shards, ...)`` yields the same pixels as
    ``image_dataset(source, ...)``.

    Args:
        source: an image source (folder, glob, list file, list of paths).
        out_dir: output folder (created if needed). Existing shards with the same names are
            overwritten; others are left alone.
        shard_size: records per shard. Defaults to `1000`.
        prefix: shard name prefix. Defaults to `"images"`.
        validate: decode each image first (in parallel, with the pipeline's decoder) and leave
            out, with an :class:`UnreadableImageWarning`, those that fail. Defaults to `True`.

    Returns:
        The list of shard paths written.
    """
    if isinstance(shard_size, bool) or int(shard_size) < 1:
        raise ValueError(f"shard_size must be a positive int. Received: {shard_size=}")
    if not prefix or os.sep in prefix or (os.altsep and os.altsep in prefix):
        raise ValueError(f"prefix must be a non-empty file name prefix. Received: {prefix=}")
    resolved = resolve_source(source)
    if resolved.kind != "files":
        raise ValueError(
            f"write_tfrecords packs image files; this source is already TFRecord shards. "
            f"Received: source={resolved.description}"
        )
    paths = list(resolved.paths)
    if validate:
        good = {
            p.decode("utf-8")
            for _, p in image_dataset(
                paths, crop=None, flip=False, with_paths=True, prefetch=None, on_error="warn"
            ).as_numpy_iterator()
        }
        paths = [p for p in paths if p in good]
    if not paths:
        raise ValueError(f"No readable image to write. Received: source={resolved.description}")
    os.makedirs(out_dir, exist_ok=True)
    n_shards = math.ceil(len(paths) / int(shard_size))
    written = []
    for index in range(n_shards):
        shard_path = os.path.join(out_dir, f"{prefix}-{index:05d}-of-{n_shards:05d}.tfrecord")
        chunk = paths[index * int(shard_size) : (index + 1) * int(shard_size)]
        with tf.io.TFRecordWriter(shard_path) as writer:
            for path in chunk:
                with open(path, "rb") as f:
                    data = f.read()
                name = os.path.relpath(os.path.abspath(path), resolved.root or "/")
                example = tf.train.Example(
                    features=tf.train.Features(
                        feature={
                            _KEY_ENCODED: _bytes_feature(data),
                            _KEY_FILENAME: _bytes_feature(name.replace(os.sep, "/").encode()),
                            _KEY_FORMAT: _bytes_feature(_sniff_format(data).encode()),
                        }
                    )
                )
                writer.write(example.SerializeToString())
        written.append(shard_path)
    return written
