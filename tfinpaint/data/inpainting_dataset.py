"""``(image, mask)`` training and validation batches: an image pipeline zipped with masks.

Images come from :func:`tfinpaint.data.images.image_dataset` (folder, glob, list file or
TFRecords; crop policy, flips, seeds, sharding); masks from
:func:`tfinpaint.data.masks.mask_dataset` (a generator preset such as ``"lama_thick"``) or a
:class:`tfinpaint.data.masks.MaskFolder` (a directory of mask images, white = hole unless
``mask_hole_is_white=False``). Images and masks are drawn independently (RFR-Net / PConv pair
a random mask with each image), and batches are ``(image float32 (N, H, W, 3) in [0, 1], mask
float32 (N, H, W, 1), 1 = known)``.
"""

from __future__ import annotations

import os

import tensorflow as tf


def _mask_source(masks, size, seed, augment, hole_is_white, repeat):
    """An unbatched ``tf.data`` of ``(H, W, 1)`` masks with 1 = known."""
    from tfinpaint.data import masks as masks_lib

    if isinstance(masks, (str, os.PathLike)) and os.path.exists(os.fspath(masks)):
        folder = masks_lib.MaskFolder(
            masks, hole_is_white=hole_is_white, size=size, augment=augment, seed=seed
        )
        return folder.as_dataset(shuffle=augment, repeat=repeat)
    if isinstance(masks, (str, os.PathLike)) and (
        os.sep in os.fspath(masks) or os.fspath(masks).startswith(".")
    ):
        raise FileNotFoundError(f"Mask folder {os.fspath(masks)} does not exist.")
    return masks_lib.mask_dataset(masks, size, seed=seed)


def inpainting_dataset(
    images,
    masks="lama_thick",
    size=256,
    batch_size: int = 6,
    seed: int | None = 0,
    crop: str | None = "random_square_crop",
    flip: bool = True,
    shuffle: bool = True,
    repeat: bool = True,
    input_context: tf.distribute.InputContext | None = None,
    drop_remainder: bool = True,
    mask_augment: bool = True,
    mask_hole_is_white: bool = True,
    mask_seed: int | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(image, mask)`` batches for training or validation.

    Args:
        images: image source accepted by :func:`tfinpaint.data.images.image_dataset`.
        masks: a mask preset / generator name (``"lama_thick"``, ``"pconv"``, ...; see
            ``tfinpaint.data.masks.list_mask_kinds()``), a ``MaskGenerator`` or a folder of mask
            images. Defaults to `"lama_thick"`.
        size: output size (int or ``(H, W)``). Defaults to `256`.
        batch_size: the *global* batch size (with ``input_context`` each pipeline batches
            ``input_context.get_per_replica_batch_size(batch_size)``). Defaults to `6`.
        seed: seeds image shuffling/crops/flips and the masks; ``None`` = random each run.
        crop: image crop policy (a recipe's ``data_policy``). Defaults to
            `"random_square_crop"` (RFR-Net); use ``"center_crop"`` for validation.
        flip: random horizontal image flips. Defaults to `True`.
        shuffle: shuffle the image files. Defaults to `True`.
        repeat: endless stream (training); ``False`` gives one pass over the images
            (validation). Defaults to `True`.
        input_context: ``tf.distribute.InputContext``: images are sharded by pipeline and the
            mask seed is offset by ``input_pipeline_id`` so pipelines draw different masks.
        drop_remainder: keep only full batches (a static batch dimension). Defaults to `True`.
        mask_augment: augment folder masks (rotation, crop, flips, dilation). Defaults to `True`.
        mask_hole_is_white: polarity of folder masks. Defaults to `True`.
        mask_seed: seed of the mask stream; defaults to ``seed`` (a random one when ``seed``
            is ``None``).

    Returns:
        ``tf.data.Dataset`` of ``(image, mask)``: float32 ``(n, H, W, 3)`` and ``(n, H, W, 1)``.
    """
    from tfinpaint.data.images import image_dataset

    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive int. Received: batch_size={batch_size!r}")
    batch_size = int(batch_size)
    if isinstance(size, int):
        hw = (size, size)
    else:
        hw = tuple(int(s) for s in size)
        if len(hw) != 2:
            raise ValueError(f"size must be an int or (height, width). Received: size={size!r}")
    per_replica = batch_size
    pipeline = 0
    if input_context is not None:
        per_replica = input_context.get_per_replica_batch_size(batch_size)
        pipeline = input_context.input_pipeline_id
    if mask_seed is None:
        mask_seed = seed if seed is not None else int(tf.random.uniform((), 0, 2**31 - 1))
    mask_seed = int(mask_seed) + 1_000_003 * pipeline

    image_ds = image_dataset(
        images,
        size=hw,
        crop=crop,
        flip=flip,
        batch_size=batch_size,
        shuffle=shuffle,
        repeat=repeat,
        seed=seed,
        input_context=input_context,
        drop_remainder=drop_remainder,
    )
    mask_ds = _mask_source(masks, hw, mask_seed, mask_augment, mask_hole_is_white, repeat=True)
    mask_ds = mask_ds.batch(per_replica, drop_remainder=True)

    def pair(image, mask):
        # A last partial image batch (drop_remainder=False) takes the first masks of a full
        # mask batch.
        return image, mask[: tf.shape(image)[0]]

    ds = tf.data.Dataset.zip((image_ds, mask_ds)).map(pair, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
