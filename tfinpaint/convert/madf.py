"""Official MADF checkpoints (``MADF-inpainting/Pytorch-MADF``) -> :class:`MADFNet` weights.

The official training script saves ``{'n_iter', 'model': state_dict, 'gen_optimizer': ...}``
from ``DataParallel(FullModel)``, so the generator keys carry the prefix ``module.model.`` and the
VGG16 loss network may be stored beside them as ``module.extractor.*``; ``util/io.py::load_ckpt``
strips the prefix and loads with ``strict=False``, so a checkpoint that does not fit is silently
half-loaded. This converter accepts the state_dict with or without ``module.``/``model.``, skips
only the loss network's ``extractor.*`` keys (not part of the generator; reported as ignored),
and is otherwise strict: every generator key must map to a Keras variable of the right shape and
every Keras variable must be filled, or :class:`tfinpaint.convert.common.ConversionError` lists
every missing, extra and misshapen key. The encoder's dead BatchNorm (``enc_conv_i.bn``) is
loaded too.

The mapping is data (:func:`table`): ``(Keras layer path, state_dict prefix, kind)``, with the
kinds of :mod:`tfinpaint.convert.common` (``conv_transpose_bias`` for the decoders' transposed
convolutions, ``bn_stats`` for PN's affine-free BatchNorm). ``layer_size`` and ``n_refinement``
are read from the checkpoint.

Example:
```python
from tfinpaint.convert.madf import convert_checkpoint
model = convert_checkpoint("places2.1000000.pth")  # needs torch; or a .npz of the state_dict
model.save_weights("run/generator.weights.h5")
```
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from tfinpaint.convert.common import (
    ConversionError,
    Row,
    load_checkpoint,
    load_state_dict,
    table_to_state_dict,
)

#: The official ``FullModel`` stores its VGG16 loss network beside the generator under this
#: prefix; it is never generator weights and is always skipped (reported as ignored).
FULLMODEL_EXTRACTOR_PREFIX = "extractor."
#: Prefixes of parity-fixture entries that are not generator weights (the VGG16 loss network).
LOSS_NETWORK_PREFIXES = ("vgg16.",)


def table(layer_size: int = 7, n_refinement: int = 2) -> tuple[Row, ...]:
    """The mapping table ``(keras_path, state_dict prefix, kind)`` of a :class:`MADFNet`."""
    rows = []
    for i in range(1, layer_size + 1):
        rows += [
            Row(f"enc_conv_{i}/mask_conv", f"filter_gen_{i}.conv.0", "conv_bias"),
            Row(f"enc_conv_{i}", f"filter_gen_{i}.conv1.0", "conv_bias"),
            Row(f"enc_conv_{i}_bn", f"enc_conv_{i}.bn", "bn"),  # dead in the official forward
            Row(f"enc_up_{i}", f"enc_up_{i}.0", "conv_bias"),
        ]
    for i in range(layer_size, 0, -1):
        rows.append(Row(f"deconv_{i}", f"deconv_{i}.0", "conv_transpose_bias"))
        if i > 1:
            rows.append(Row(f"deconv_{i}_bn", f"deconv_{i}.1", "bn"))
    for i in range(layer_size, 0, -1):
        rows.append(Row(f"att_conv_{i}", f"att_conv_{i}.conv.0", "conv_bias"))
    for r in range(n_refinement):
        for i in range(layer_size, 1, -1):
            rows += [
                Row(f"dec_ref{r}_{i}_deconv", f"dec_ref{r}_{i}.deconv", "conv_transpose_bias"),
                Row(f"dec_ref{r}_{i}_pn/batch_norm", f"dec_ref{r}_{i}.bn.batch_norm", "bn_stats"),
                Row(f"dec_ref{r}_{i}_pn/mlp_shared", f"dec_ref{r}_{i}.bn.mlp_shared.0",
                    "conv_bias"),
                Row(f"dec_ref{r}_{i}_pn/mlp_scale", f"dec_ref{r}_{i}.bn.mlp_scale", "conv_bias"),
                Row(f"dec_ref{r}_{i}_pn/mlp_bias", f"dec_ref{r}_{i}.bn.mlp_bias", "conv_bias"),
            ]
        rows.append(Row(f"dec_ref{r}_1", f"dec_ref{r}_1", "conv_bias"))
    return tuple(rows)


#: The table of the official configuration (``layer_size=7``, ``n_refinement_D=2``).
TABLE = table()


def generator_state(state) -> dict:
    """Drops the ``model.`` prefix of ``FullModel`` checkpoints (``module.`` is removed by
    :func:`tfinpaint.convert.common.extract_state_dict`)."""
    if any(k.startswith("model.") for k in state):
        return {k[len("model."):] if k.startswith("model.") else k: v for k, v in state.items()}
    return dict(state)


def convert_config(state) -> dict:
    """``{"layer_size", "n_refinement"}`` implied by an official generator state_dict."""
    levels = sorted(
        int(m.group(1)) for k in state
        if (m := re.fullmatch(r"filter_gen_(\d+)\.conv\.0\.weight", k))
    )
    if not levels:
        raise ConversionError(
            "Not a MADF generator state_dict: no 'filter_gen_<i>.conv.0.weight' key. Received "
            f"keys (first 10): {sorted(state)[:10]}"
        )
    if levels != list(range(1, len(levels) + 1)) or len(levels) < 4:
        raise ConversionError(
            f"MADF encoder levels must be 1..L with L >= 4. Received levels: {levels}"
        )
    n_refinement = sum(f"dec_ref{r}_1.weight" in state for r in range(2))
    if n_refinement == 1 and "dec_ref0_1.weight" not in state:
        raise ConversionError("dec_ref1_* without dec_ref0_*: not an official MADF generator.")
    return {"layer_size": len(levels), "n_refinement": n_refinement}


def load_madf_weights(model, state, ignore_prefixes: Iterable[str] = ()):
    """Loads an official generator state_dict into a built :class:`MADFNet`, strictly (keys
    under ``extractor.`` and ``ignore_prefixes`` skipped)."""
    if not model.built:
        model.build(((None, None, None, 3), (None, None, None, 1)))
    rows = table(model.layer_size, model.n_refinement)
    ignore = (FULLMODEL_EXTRACTOR_PREFIX, *ignore_prefixes)
    return load_state_dict(model, generator_state(state), rows, ignore_prefixes=ignore)


def convert_checkpoint(
    source,
    return_intermediates: bool = False,
    ignore_prefixes: Iterable[str] = (),
):
    """Builds a :class:`MADFNet` and loads an official checkpoint into it.

    Args:
        source: path of a ``.pth``/``.pt`` (needs torch) or ``.npz`` file, or a dict: a bare
            state_dict or ``{'model': state_dict, ...}`` as the official script saves, keys with
            or without ``module.model.``.
        return_intermediates: passed to the model. Defaults to `False`.
        ignore_prefixes: further key prefixes to skip (e.g. ``("vgg16.",)`` for a parity
            fixture holding the loss network). Defaults to `()`: besides the official loss
            network (``extractor.*``, always skipped), every key must map.

    Returns:
        The model with the checkpoint's weights; ``model.conversion_config`` holds the
        constructor arguments (``{"layer_size", "n_refinement"}``).

    Raises:
        ConversionError: listing every missing, extra and misshapen key.
    """
    from tfinpaint.models.madf import build_madf

    state = generator_state(load_checkpoint(source))
    config = convert_config(state)
    model = build_madf(return_intermediates=return_intermediates, **config)
    load_madf_weights(model, state, ignore_prefixes=ignore_prefixes)
    model.conversion_config = config
    return model


def export_state_dict(model) -> dict[str, np.ndarray]:
    """The model's weights as an official MADF state_dict (numpy, PyTorch layouts)."""
    return table_to_state_dict(model, table(model.layer_size, model.n_refinement))
