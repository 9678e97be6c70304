"""Input checks shared by every generator: errors that name the problem before a graph does.

The generator contract (DESIGN section 3): ``model((image, mask))`` with ``image`` float
``(N, H, W, 3)`` in [0, 1] and ``mask`` float ``(N, H, W, 1)``, 1 = known, 0 = hole, H and W
multiples of the model's ``size_multiple``. Checks run on static shapes only, so they cost
nothing in a traced graph and never reject a ``[None, None]`` signature (the export pads).
"""

from __future__ import annotations

import keras

_MEANING = {"image": "RGB in [0, 1]", "mask": "1 = known, 0 = hole"}


def validate_generator_inputs(model_name: str, inputs, size_multiple: int, note: str = ""):
    """Checks ``(image, mask)`` against the generator contract and returns them.

    Args:
        model_name: named in every message.
        inputs: what the model was called with.
        size_multiple: H and W must be multiples of it.
        note: appended to the size message (e.g. how the multiple follows from the config).

    Raises:
        ValueError: naming the argument and the problem (call form, rank, channels, dtype,
            size multiple, image/mask size mismatch), with the received shape or dtype.
    """
    if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
        raise ValueError(
            f"{model_name} is called as model((image, mask)). Received: inputs of type "
            f"{type(inputs).__name__}"
        )
    image, mask = inputs
    for name, t, channels in (("image", image, 3), ("mask", mask, 1)):
        shape = tuple(t.shape)
        if len(shape) != 4:
            raise ValueError(
                f"{model_name}: {name} must be a rank-4 NHWC tensor (N, H, W, {channels}). "
                f"Received: {name}.shape={shape}"
            )
        if shape[-1] is not None and shape[-1] != channels:
            raise ValueError(
                f"{model_name}: {name} must have {channels} channel{'s' if channels > 1 else ''}"
                f" ({_MEANING[name]}). Received: {name}.shape={shape}"
            )
        dtype = keras.backend.standardize_dtype(t.dtype)
        if "float" not in dtype:
            raise ValueError(
                f"{model_name}: {name} must be a float tensor ({_MEANING[name]}); convert uint8 "
                f"images with x / 255. Received: {name}.dtype={dtype}"
            )
    for i, axis in ((1, "H"), (2, "W")):
        size, other = image.shape[i], mask.shape[i]
        if size is not None and size % size_multiple:
            raise ValueError(
                f"{model_name}: image {axis}={size} is not a multiple of size_multiple="
                f"{size_multiple}{note}; pad to a multiple (tfinpaint.inference.Inpainter "
                f"does). Received: image.shape={tuple(image.shape)}"
            )
        if size is not None and other is not None and size != other:
            raise ValueError(
                f"{model_name}: image and mask must have the same H and W. Received: "
                f"image.shape={tuple(image.shape)}, mask.shape={tuple(mask.shape)}"
            )
    return image, mask
