"""Evaluation runner: image folder + mask folder -> model -> composite -> metrics per bucket.

:func:`evaluate` is what ``tfinpaint evaluate`` runs. It works with anything that follows the
generator contract (a registered model name such as ``cv2-telea``, a built ``keras.Model`` or
:class:`~tfinpaint.models.classical.ClassicalInpainter`, or, when :mod:`tfinpaint.inference`
provides ``load``, a training run directory / exported model).

Pairing rule: image files and mask files are each listed as the training data lists them
(:func:`list_image_files`): a folder is searched **recursively** and sorted by path (the
``index.csv`` / ``index.json`` that ``tfinpaint masks`` writes beside its PNGs are skipped); a
list of files keeps its order. Image ``i`` is paired with mask ``i mod len(masks)``. So with
fewer masks than images the masks repeat in order, and an evaluation is reproducible from the
two sources alone. ``limit`` keeps the first ``limit`` images of that order. Keep the
``save_images`` folder outside the image folder: a recursive listing would pick the saved
images up in a later run.

Geometry: every image is made ``size x size``. ``crop="center_crop"`` (default) takes the
largest centred square and resizes it (Pillow bicubic, antialiased when shrinking);
``crop="resize"`` resizes the whole image (aspect ratio not kept); ``crop="none"`` requires the
files to be ``size x size`` already. Masks follow the same crop policy and are resized with
nearest neighbour only after binarization, so they stay exactly 0/1.

Masks at the edge: **white = hole** (the one rule: a 0/1 mask where 1, a 0..255 mask where
>= 128), converted by
:func:`tfinpaint.data.polarity.hole_from_user_mask`; ``mask_polarity="known"`` is for mask sets
whose white pixels are the known ones. ``index.csv`` files written by ``tfinpaint masks`` are not
needed: the hole ratio that picks the bucket is recomputed from each mask at evaluation
resolution (anchors section 8: do not trust file order or stored ratios).

Scoring: by default the composite ``mask * image + (1 - mask) * output`` is scored
(``on="composite"``, as LaMa, EdgeConnect and the papers' tables), with the model output first
rounded to 8 bits (``quantize=True``), i.e. what a saved PNG would hold; EdgeConnect's and
MANet's metric scripts also score PNG files. The images themselves are 8-bit files.
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tfinpaint.data.buckets import BUCKETS
from tfinpaint.data.polarity import hole_from_user_mask, read_mask_file
from tfinpaint.edge import composite
from tfinpaint.metrics import SCORED_ON, VARIANTS, MetricAccumulator

CROPS = ("center_crop", "resize", "none")
MASK_POLARITIES = ("hole", "known")


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def list_image_files(source, what: str = "image") -> list[pathlib.Path]:
    """Files of an image (``what="image"``) or mask (``what="mask"``) source, in pairing order.

    The listing is the training data's, so a folder gives the same files here as in training:
    images through :func:`tfinpaint.data.images.list_image_files` (the ``tf.data`` pipelines:
    recursive folders sorted by path, globs, list files, a file, or a list of paths kept in
    order; :data:`~tfinpaint.data.images.IMAGE_EXTENSIONS`), masks through
    :func:`tfinpaint.data.masks.list_mask_files` (what :class:`~tfinpaint.data.masks.MaskFolder`
    reads: recursive folders sorted by path, a file, or a list;
    :data:`~tfinpaint.data.masks.MASK_EXTENSIONS`, TIFF included as masks are read with Pillow).
    Either way the ``index.csv`` / ``index.json`` of a ``tfinpaint masks`` folder are skipped.
    This wrapper names ``what`` in the errors, checks that every listed file exists, and returns
    ``pathlib.Path`` objects.

    Raises:
        FileNotFoundError: the source or a listed file does not exist (message names it).
        ValueError: a folder without any file of a listed extension (or another unusable
            source).
    """
    if what == "image":
        from tfinpaint.data.images import IMAGE_EXTENSIONS as extensions
        from tfinpaint.data.images import list_image_files as lister
    elif what == "mask":
        from tfinpaint.data.masks import MASK_EXTENSIONS as extensions
        from tfinpaint.data.masks import list_mask_files as lister
    else:
        raise ValueError(f"what must be 'image' or 'mask'. Received: what={what!r}")
    is_path = isinstance(source, (str, os.PathLike))
    try:
        files = [pathlib.Path(p) for p in lister(source)]
    except FileNotFoundError as e:
        if is_path:
            raise FileNotFoundError(
                f"{what} path {os.fspath(source)}: does not exist (no folder, file or glob match)"
            ) from None
        raise FileNotFoundError(f"{what} {e}") from None
    except ValueError as e:
        if is_path and os.path.isdir(source):
            raise ValueError(
                f"{what} directory {os.fspath(source)}: contains no image files (searched "
                f"recursively for {', '.join(extensions)})"
            ) from None
        raise ValueError(f"{what} source: {e}") from None
    for p in files:
        if not p.is_file():
            raise FileNotFoundError(f"{what} file {p}: does not exist")
    return files


def _open(path: pathlib.Path, what: str) -> Image.Image:
    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"{what} file {path}: cannot be read as an image ({e})") from None
    return img


def _crop_box(width: int, height: int, size: int, crop: str, path, what: str):
    if crop == "center_crop":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return (left, top, left + side, top + side)
    if crop == "resize":
        return (0, 0, width, height)
    if (width, height) != (size, size):
        raise ValueError(
            f"{what} file {path}: is {width}x{height}, but crop='none' needs {size}x{size}"
        )
    return (0, 0, width, height)


def _decode_rgb(path: pathlib.Path) -> Image.Image:
    try:
        from tfinpaint.data.images import load_image
    except ImportError:  # the data pipeline module is optional here
        load_image = None
    if load_image is not None:
        if not path.is_file():
            raise FileNotFoundError(f"image file {path}: does not exist")
        try:
            return Image.fromarray(load_image(path))
        except ValueError as e:
            raise ValueError(f"image file {path}: cannot be read as an image ({e})") from None
    img = ImageOps.exif_transpose(_open(path, "image"))
    return img if img.mode == "RGB" else img.convert("RGB")


def read_image(path, size: int = 256, crop: str = "center_crop") -> np.ndarray:
    """Reads an image file as float32 RGB ``(size, size, 3)`` in ``[0, 1]`` (8-bit levels).

    Decoded with :func:`tfinpaint.data.images.load_image` (the decoder of the training
    pipelines: RGB, alpha composited over white, no EXIF rotation) when that module is present,
    else with Pillow; then cropped and resized as described in the module docstring. Raises
    ``FileNotFoundError`` / ``ValueError`` naming the file when it is missing or undecodable.
    """
    path = pathlib.Path(path)
    img = _decode_rgb(path)
    box = _crop_box(img.width, img.height, size, crop, path, "image")
    if box != (0, 0, size, size) or img.size != (size, size):
        img = img.crop(box).resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


def read_mask(
    path, size: int = 256, crop: str = "center_crop", mask_polarity: str = "hole"
) -> np.ndarray:
    """Reads a mask file as a library mask: float32 ``(size, size, 1)``, **1 = known**.

    The file's white pixels are holes (``mask_polarity="hole"``, default) or known
    pixels (``"known"``). Binarization follows :func:`tfinpaint.data.polarity.hole_from_user_mask`
    (a 0/1 mask where 1, a 0..255 mask where >= 128); resizing is nearest neighbour.
    """
    if mask_polarity not in MASK_POLARITIES:
        raise ValueError(
            f"mask_polarity must be one of {MASK_POLARITIES}. Received: {mask_polarity!r}"
        )
    path = pathlib.Path(path)
    arr = read_mask_file(path)  # the one reader of mask files
    try:
        hole = hole_from_user_mask(arr, hole_is_white=(mask_polarity == "hole"))
    except (ValueError, TypeError) as e:
        raise ValueError(f"mask file {path}: {e}") from None
    hole8 = Image.fromarray((hole[..., 0] * 255).astype(np.uint8), mode="L")
    box = _crop_box(hole8.width, hole8.height, size, crop, path, "mask")
    if box != (0, 0, size, size) or hole8.size != (size, size):
        hole8 = hole8.crop(box).resize((size, size), Image.NEAREST)
    hole = (np.asarray(hole8) > 127).astype(np.float32)[..., None]
    return 1.0 - hole


def pair_indices(num_images: int, num_masks: int) -> list[int]:
    """Mask index for each image: ``i mod num_masks``."""
    if num_masks <= 0:
        raise ValueError(f"num_masks must be positive. Received: num_masks={num_masks}")
    return [i % num_masks for i in range(num_images)]


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def resolve_model(model_or_name):
    """Returns ``(model, label)`` for a registered name, a run dir / export, or a model object.

    Names and paths go through ``tfinpaint.inference.load`` when that module is present (run
    directories, ``*.weights.h5``, ``*.keras``; a Keras network built by name has random weights
    and ``load`` warns), else names go through :func:`tfinpaint.models.build`.
    """
    if isinstance(model_or_name, (str, os.PathLike)):
        name = os.fspath(model_or_name)
        try:
            from tfinpaint.inference import load
        except ImportError:
            load = None
        if load is not None:
            return load(model_or_name), name
        from tfinpaint.models import registry

        known = registry.list_models()
        if name in known:
            return registry.build(name), name
        raise ValueError(
            f"Unknown model {name!r}: not a registered model ({', '.join(known)}); loading run "
            "directories needs tfinpaint.inference, which is not available"
        )
    if not callable(model_or_name):
        raise TypeError(
            "model must be a registered name, a path, or a callable following the generator "
            f"contract. Received: type={type(model_or_name).__name__}"
        )
    label = getattr(model_or_name, "name", None) or type(model_or_name).__name__
    return model_or_name, str(label)


def run_model(model, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Calls ``model((image, mask), training=False)`` and returns ``"output"`` as numpy.

    A generator with a ``min_size`` or a ``context_margin`` (e.g. the shipped default model)
    runs through :func:`tfinpaint.edge.run_padded`, the path of ``Inpainter`` and the exports,
    so the scores are what users get (``size`` is a multiple of ``size_multiple`` already). A
    model returning a plain tensor instead of a dict is accepted (it is the output).
    """
    import tensorflow as tf

    from tfinpaint.edge import edge_settings, run_padded

    edge = edge_settings(model)
    if edge["min_size"] or edge["context_margin"]:
        result = {"output": run_padded(model, image, mask, **edge)}
    else:
        result = model((tf.convert_to_tensor(image), tf.convert_to_tensor(mask)),
                       training=False)
    if isinstance(result, dict):
        if "output" not in result:
            raise ValueError(
                "The model returned a dict without 'output'. "
                f"Received: keys={sorted(result)}"
            )
        result = result["output"]
    out = np.asarray(result, dtype=np.float32)
    if out.shape != image.shape:
        raise ValueError(
            f"The model output shape differs from the input. Received: output.shape={out.shape}, "
            f"image.shape={image.shape}"
        )
    return out


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def evaluate(
    model_or_name,
    images,
    masks,
    size: int = 256,
    crop: str = "center_crop",
    variant: str = "standard",
    batch_size: int = 8,
    on: str = "composite",
    limit: int | None = None,
    progress: bool = True,
    mask_polarity: str = "hole",
    quantize: bool = True,
    save_images=None,
    buckets: Sequence[tuple[float, float]] | str = BUCKETS,
) -> dict:
    """Evaluates an inpainting model on an image set with a mask set, per hole-ratio bucket.

    Args:
        model_or_name: registered name (``"cv2-telea"``), run directory / exported model (via
            ``tfinpaint.inference.load``), or a callable following the generator contract.
        images: folder, image file, or list of image files (sorted by name when a folder).
        masks: folder, mask file, or list of mask files; white = hole (see ``mask_polarity``).
        size: evaluation resolution (square); must be a multiple of the model's
            ``size_multiple``. Defaults to ``256``.
        crop: ``"center_crop"`` (default), ``"resize"`` or ``"none"``.
        variant: ``"standard"`` (default) or ``"edgeconnect"`` (see :mod:`tfinpaint.metrics`).
        batch_size: images per model call. Defaults to ``8``.
        on: ``"composite"`` (default) or ``"raw"``.
        limit: evaluate only the first ``limit`` images (after sorting).
        progress: show a tqdm progress bar on stderr.
        mask_polarity: ``"hole"`` (default: white = hole) or ``"known"`` (white = known).
        quantize: round the model output to 8 bits before scoring. Defaults to ``True``.
        save_images: folder to write the scored images (composite or raw) as PNG, named after
            the image files; ``None`` (default) writes nothing.
        buckets: hole-ratio buckets. Defaults to the PConv 1-10 % ... 50-60 % buckets.

    Returns:
        The results dict of :meth:`tfinpaint.metrics.MetricAccumulator.result` (variant,
        ``on``, meta, groups ``total`` + buckets, per-image rows with image and mask names).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}. Received: variant={variant!r}")
    if on not in SCORED_ON:
        raise ValueError(f"on must be one of {SCORED_ON}. Received: on={on!r}")
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}. Received: crop={crop!r}")
    if mask_polarity not in MASK_POLARITIES:
        raise ValueError(
            f"mask_polarity must be one of {MASK_POLARITIES}. Received: {mask_polarity!r}"
        )
    min_size = 51 if variant == "edgeconnect" else 11
    if isinstance(size, bool) or not isinstance(size, int) or size < min_size:
        raise ValueError(
            f"size must be an integer >= {min_size} (the SSIM window of variant {variant!r}). "
            f"Received: size={size!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer. Received: {batch_size!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None. Received: limit={limit!r}")

    image_files = list_image_files(images, "image")
    mask_files = list_image_files(masks, "mask")
    if limit is not None:
        image_files = image_files[:limit]
    pairs = pair_indices(len(image_files), len(mask_files))

    model, label = resolve_model(model_or_name)
    multiple = int(getattr(model, "size_multiple", 1) or 1)
    if size % multiple:
        raise ValueError(
            f"size {size} is not a multiple of the model's size_multiple {multiple} "
            f"(model {label}); use --size {((size + multiple - 1) // multiple) * multiple}"
        )

    save_dir = None
    if save_images is not None:
        save_dir = pathlib.Path(save_images)
        save_dir.mkdir(parents=True, exist_ok=True)
    used_names: set[str] = set()

    acc = MetricAccumulator(
        variant=variant,
        on=on,
        buckets=buckets,
        meta={
            "model": label,
            "size": size,
            "crop": crop,
            "num_images": len(image_files),
            "num_masks": len(mask_files),
            "mask_polarity": mask_polarity,
            "quantize_8bit": bool(quantize),
        },
    )
    from tqdm.auto import tqdm

    bar = tqdm(total=len(image_files), unit="img", disable=not progress, file=sys.stderr,
               desc=f"evaluate {label}")
    try:
        for start in range(0, len(image_files), batch_size):
            idx = range(start, min(start + batch_size, len(image_files)))
            batch_images = np.stack([read_image(image_files[i], size, crop) for i in idx])
            batch_masks = np.stack(
                [read_mask(mask_files[pairs[i]], size, crop, mask_polarity) for i in idx]
            )
            output = run_model(model, batch_images, batch_masks)
            output = np.clip(output, 0.0, 1.0)
            if quantize:
                output = np.round(output * 255.0) / 255.0
            names = [image_files[i].name for i in idx]
            records = acc.update(batch_images, output, batch_masks, names=names)
            for rec, i in zip(records, idx):
                rec["mask"] = mask_files[pairs[i]].name
            if save_dir is not None:
                scored = (
                    composite(batch_images, batch_masks, output) if on == "composite" else output
                )
                for img, i in zip(scored, idx):
                    stem = image_files[i].stem
                    name = f"{stem}.png" if stem not in used_names else f"{stem}_{i:06d}.png"
                    used_names.add(stem)
                    Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(
                        save_dir / name
                    )
            bar.update(len(idx))
    finally:
        bar.close()
    return acc.result()
