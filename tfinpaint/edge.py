"""The one edge path: pad to the size multiple, run, crop back, composite.

Every edge that runs a generator goes through these functions: :class:`tfinpaint.inference.
Inpainter` (eagerly, on numpy arrays), both SavedModel signatures and the TFLite graph (traced),
and the TFLite Keras reference (eagerly, the same code as the graph it checks). The user's mask
becomes a hole in :mod:`tfinpaint.data.polarity` before it gets here.

- :func:`composite` is the one composite formula, ``known * image + (1 - known) * output``
  (DESIGN.md section 2); it is plain arithmetic, so it works on numpy arrays and tensors, and the
  trainer, callbacks and evaluation use it too.
- :func:`run_padded`: reflect-pad image and known mask (first ``context_margin`` pixels on every
  side when the model asks for it, then at the bottom/right to the multiple and the model's
  minimum size), zero the holes (``masked = image * known``), call the generator, crop back
  (LaMa ``pad_out_to_modulo`` / ``unpad_to_size``).
- :func:`edge_settings`: the three numbers a generator gives the edge path (``size_multiple``,
  ``min_size``, ``context_margin``), read in one place for every caller.
- :func:`inpaint_uint8`: the uint8 edge contract: uint8 image and float hole in, the uint8
  composite out, computed in 0-255 units (known pixels stay exact integers; TFLite's int8
  quantizer handles it, where a final ``* 255`` after a [0, 1] composite came out ~128 off).
"""

from __future__ import annotations

__all__ = ["composite", "edge_settings", "inpaint_uint8", "run_padded"]


def composite(image, known, output):
    """``known * image + (1 - known) * output``: known pixels from ``image``, holes from ``output``.

    Works on numpy arrays and tensors alike (``known`` broadcasts over channels). For a binary
    ``known`` the result is exactly ``image`` where known.
    """
    return known * image + (1.0 - known) * output


def edge_settings(generator) -> dict:
    """``{"size_multiple", "min_size", "context_margin"}`` of ``generator`` (its attributes, set
    by :func:`tfinpaint.models.registry.build`; 1, 0 and 0 when absent)."""
    settings = {
        "size_multiple": int(getattr(generator, "size_multiple", None) or 1),
        "min_size": int(getattr(generator, "min_size", None) or 0),
        "context_margin": int(getattr(generator, "context_margin", None) or 0),
    }
    if settings["size_multiple"] < 1 or settings["min_size"] < 0 or settings["context_margin"] < 0:
        raise ValueError(
            "A generator's size_multiple must be >= 1, its min_size and context_margin >= 0. "
            f"Received: {settings}"
        )
    return settings


def _pad_to(x, height, width, margin=0):
    """Reflect-pads NHWC ``x`` to ``height`` x ``width``: ``margin`` pixels before (top/left),
    the rest after (bottom/right); equals ``numpy.pad(mode="reflect")`` for any amount."""
    import tensorflow as tf

    from tfinpaint.layers.padding import _reflect_indices

    shape = tf.shape(x)
    x = tf.gather(x, _reflect_indices(shape[1], height, margin), axis=1)
    return tf.gather(x, _reflect_indices(shape[2], width, margin), axis=2)


def run_padded(generator, image, known, size_multiple: int = 1, min_size: int = 0,
               context_margin: int = 0):
    """Raw generator output for images of any size.

    Args:
        generator: ``generator((masked, known), training=False) -> {"output": ...}``.
        image: float ``[N, H, W, 3]`` in ``[0, 1]`` (numpy or tensor).
        known: float ``[N, H, W, 1]``, 1 = known, 0 = hole.
        size_multiple: pad H and W up to a multiple of it (reflect, bottom/right).
        min_size: pad H and W up to at least this first.
        context_margin: reflect-pad this many pixels on every side first (mask reflected with
            the image, so a hole touching the border continues into the margin). A network
            whose convolutions zero-pad at the image border sees a hole that touches the border
            as filled from fewer pixels and can leave stripes there; with a margin the border
            lies inside the network's input (the shipped ``pconv_unet_default`` uses 64 px:
            +0.5 dB on 1-10 % holes, see its model card).

    Returns:
        float32 ``[N, H, W, 3]`` tensor, the network's ``"output"`` cropped back, not clipped.

    Raises:
        ValueError: the generator returned no ``"output"`` or one of the wrong shape.
    """
    import tensorflow as tf

    from tfinpaint.layers.padding import padded_size

    image = tf.convert_to_tensor(image, tf.float32)
    known = tf.convert_to_tensor(known, tf.float32)
    h, w = tf.shape(image)[1], tf.shape(image)[2]
    static_hw = image.shape[1:3]
    multiple = max(int(size_multiple), 1)
    min_size = int(min_size or 0)
    margin = int(context_margin or 0)
    needs_pad = (
        margin > 0
        or None in static_hw
        or any(d % multiple for d in static_hw)
        or any(d < min_size for d in static_hw)
    )
    if needs_pad:
        th = padded_size(tf.maximum(h + 2 * margin, min_size), multiple)
        tw = padded_size(tf.maximum(w + 2 * margin, min_size), multiple)
        image, known = _pad_to(image, th, tw, margin), _pad_to(known, th, tw, margin)
    result = generator((image * known, known), training=False)
    if not isinstance(result, dict) or "output" not in result:
        raise ValueError(
            "The generator must return a dict with an 'output' entry. Received: "
            f"{type(result).__name__}"
            + (f" with keys {sorted(result)}" if isinstance(result, dict) else "")
        )
    out = tf.cast(tf.convert_to_tensor(result["output"]), tf.float32)
    if tf.executing_eagerly() and (out.shape[:3] != image.shape[:3] or out.shape[-1] != 3):
        raise ValueError(
            f"The generator's 'output' has shape {tuple(out.shape)}; expected "
            f"{(*image.shape[:3], 3)} (the padded input size with 3 channels)."
        )
    return out[:, margin : margin + h, margin : margin + w, :]


def inpaint_uint8(generator, image, hole, size_multiple: int = 1, min_size: int = 0,
                  context_margin: int = 0):
    """The uint8 edge contract (SavedModel signatures, TFLite and its reference).

    Args:
        generator: the generator (library conventions).
        image: uint8 ``[B, H, W, 3]``.
        hole: float32 ``[B, H, W, 1]``, 1 = fill (from :mod:`tfinpaint.data.polarity`).
        size_multiple, min_size, context_margin: as :func:`run_padded`.

    Returns:
        ``(inpainted, prediction)``: the uint8 composite ``[B, H, W, 3]`` (known pixels exactly
        the input's) and the network output clipped to ``[0, 1]`` (float32).
    """
    import tensorflow as tf

    x255 = tf.cast(image, tf.float32)
    known = 1.0 - tf.cast(hole, tf.float32)
    out = run_padded(generator, x255 / 255.0, known, size_multiple, min_size, context_margin)
    out255 = tf.clip_by_value(out * 255.0, 0.0, 255.0)
    inpainted = tf.cast(tf.round(composite(x255, known, out255)), tf.uint8)
    return inpainted, out255 / 255.0
