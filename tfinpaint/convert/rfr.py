"""Official RFR-Net checkpoints (``jingyuanli001/RFR-Inpainting``) -> :class:`RFRNet` weights.

The official training script saves ``{'n_iter', 'generator': state_dict, 'optimizer_G': ...}``
(``utils/io.py::save_ckpt``) and loads it with ``load_state_dict(strict=False)``, so a
checkpoint that does not fit is silently half-loaded. This converter is strict: every key of
the generator's state_dict must map to a Keras variable with the right shape and every Keras
variable must be filled; otherwise :class:`tfinpaint.convert.common.ConversionError` lists every
missing, extra and misshapen key.

The mapping is data (:data:`TABLE`): ``(Keras layer path, state_dict prefix, kind)``. The
variant is read from the checkpoint itself: 5x5 ``Pconv2/21/22`` kernels mean the official
``RFRNet_Smaller_Hole.py`` model (``small_hole=True``).

Example:
```python
from tfinpaint.convert.rfr import convert_checkpoint
model = convert_checkpoint("checkpoint_celeba.pth")  # needs torch; or a .npz of the state_dict
model.save_weights("run/generator.weights.h5")
```
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tfinpaint.convert.common import (
    ConversionError,
    Row,
    load_checkpoint,
    load_state_dict,
    table_to_state_dict,
)


def _table() -> tuple[Row, ...]:
    rows = [
        Row("pconv1", "Pconv1", "conv"),
        Row("bn1", "bn1", "bn"),
        Row("pconv2", "Pconv2", "conv"),
        Row("bn20", "bn20", "bn"),
        Row("pconv21", "Pconv21", "conv"),
        Row("pconv22", "Pconv22", "conv"),
        Row("bn2", "bn2", "bn"),
    ]
    for i in range(1, 7):
        rows.append(Row(f"rfr_module/enc_{i}_conv", f"RFRModule.enc_{i}.0", "conv"))
        rows.append(Row(f"rfr_module/enc_{i}_bn", f"RFRModule.enc_{i}.1", "bn"))
    rows.append(Row("rfr_module/att/att/ratio", "RFRModule.att.att.ratio", "param"))
    rows.append(Row("rfr_module/att/combiner", "RFRModule.att.combiner", "conv_bias"))
    for i in (5, 4, 3, 2, 1):
        kind = "conv" if i >= 4 else "conv_transpose"
        rows.append(Row(f"rfr_module/dec_{i}_conv", f"RFRModule.dec_{i}.0", kind))
        rows.append(Row(f"rfr_module/dec_{i}_bn", f"RFRModule.dec_{i}.1", "bn"))
    rows += [
        Row("tconv", "Tconv", "conv_transpose"),
        Row("bn3", "bn3", "bn"),
        Row("tail1", "tail1", "conv"),
    ]
    for j in (1, 2, 3):
        rows.append(Row(f"tail2/conv{j}", f"tail2.conv{j}", "conv"))
        rows.append(Row(f"tail2/bn{j}", f"tail2.bn{j}", "bn"))
    rows.append(Row("out", "out", "conv"))
    return tuple(rows)


#: The mapping table ``(keras_path, state_dict prefix, kind)`` of the RFR-Net generator.
TABLE = _table()

#: Prefixes of parity-fixture entries that are not generator weights (the VGG16 loss network).
LOSS_NETWORK_PREFIXES = ("vgg16.",)


def convert_config(state) -> dict:
    """Constructor overrides implied by an official state_dict (``{"small_hole": bool}``).

    ``Pconv2``, ``Pconv21``, ``Pconv22`` are 7x7 in ``RFRNet.py`` and 5x5 in
    ``RFRNet_Smaller_Hole.py``; anything else is refused.
    """
    sizes = {}
    for key in ("Pconv2.weight", "Pconv21.weight", "Pconv22.weight"):
        if key not in state:
            raise ConversionError(
                f"Not an RFR-Net generator state_dict: missing key {key!r}. Received keys "
                f"(first 10): {sorted(state)[:10]}"
            )
        shape = tuple(np.shape(state[key]))
        if len(shape) != 4 or shape[2] != shape[3]:
            raise ConversionError(f"{key}: expected a square 4-D kernel. Received: shape={shape}")
        sizes[key] = shape[2]
    if len(set(sizes.values())) != 1 or next(iter(sizes.values())) not in (5, 7):
        raise ConversionError(
            "Pconv2/Pconv21/Pconv22 must all be 7x7 (RFRNet.py) or all 5x5 "
            f"(RFRNet_Smaller_Hole.py). Received kernel sizes: {sizes}"
        )
    return {"small_hole": sizes["Pconv2.weight"] == 5}


def load_rfr_weights(model, state, ignore_prefixes: Iterable[str] = ()) -> dict:
    """Loads an official state_dict (``{name: array}``) into a built :class:`RFRNet`, strictly."""
    if not model.built:
        model.build(((None, None, None, 3), (None, None, None, 1)))
    return load_state_dict(model, state, TABLE, ignore_prefixes=ignore_prefixes)


def convert_checkpoint(
    source,
    iter_num: int = 6,
    return_intermediates: bool = False,
    ignore_prefixes: Iterable[str] = (),
):
    """Builds an :class:`RFRNet` and loads an official checkpoint into it.

    Args:
        source: path of a ``.pth``/``.pt`` (needs torch) or ``.npz`` file, or a dict: a bare
            state_dict or ``{'generator': state_dict, ...}`` as the official script saves.
        iter_num: recurrences (not stored in checkpoints; official 6). Defaults to `6`.
        return_intermediates: passed to the model. Defaults to `False`.
        ignore_prefixes: state_dict prefixes to skip (e.g. ``("vgg16.",)`` for a parity
            fixture that also holds the loss network). Defaults to `()`: every key must map.

    Returns:
        The model with the checkpoint's weights; ``model.conversion_config`` holds the
        constructor arguments to save alongside (``{"iter_num", "small_hole"}``).

    Raises:
        ConversionError: listing every missing, extra and misshapen key.
    """
    from tfinpaint.models.rfr import build_rfr_net

    state = load_checkpoint(source)
    config = {"iter_num": int(iter_num), **convert_config(state)}
    model = build_rfr_net(return_intermediates=return_intermediates, **config)
    load_rfr_weights(model, state, ignore_prefixes=ignore_prefixes)
    model.conversion_config = config
    return model


def export_state_dict(model) -> dict[str, np.ndarray]:
    """The model's weights as an official RFR-Net state_dict (numpy, PyTorch layouts)."""
    return table_to_state_dict(model, TABLE)
