"""Official Baik "Image Inpainting" checkpoints (``jwbaik96/Image-inpainting``) -> Keras weights.

The authors released ``{CelebaHQ,Places365}_Gen_param.pth`` (a plain ``state_dict`` of
``model.py::WrappingModule``) and ``..._Dis_param.pth`` (``model.py::Discriminator``). Both are
converted strictly through mapping tables (:data:`GENERATOR_TABLE`,
:data:`DISCRIMINATOR_TABLE`) over :mod:`tfinpaint.convert.common`: every key must map to a Keras
variable of the right shape and every variable must be filled.

The discriminator's state_dict lists each spectrally normalised conv twice (``convK.conv.*`` and
``convK.spec_norm.*`` are one ``nn.Conv2d`` registered under two names): the ``spec_norm`` copy
must hold the same arrays and is then dropped (a mismatch is an error, since torch would load
whichever comes last).

Example:
```python
from tfinpaint.convert.recurrent import convert_checkpoint, convert_discriminator
generator = convert_checkpoint("CelebaHQ_Gen_param.pth")
discriminator = convert_discriminator("CelebaHQ_Dis_param.pth")
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
from tfinpaint.models.recurrent import NUM_DMF_BLOCKS, NUM_RES_BLOCKS, RECURRENT_LAYERS

_DECONV_LAYERS = ("decoder_layer3", "decoder_layer5")  # official RecurrentDeConv


def _generator_table(prefix: str = "") -> tuple[Row, ...]:
    rows = []
    for name in RECURRENT_LAYERS:
        inner = f"{name}.recurrent_conv" if name in _DECONV_LAYERS else name
        for conv in ("conv", "buffer_conv"):
            rows.append(Row(f"{name}/{conv}", f"{prefix}main_module.{inner}.{conv}", "conv_bias"))
    for i in range(NUM_RES_BLOCKS):
        for keras_mod, torch_mod in (("coarse_res", "coarse_module.res_module"),
                                     ("refine_res", "refine_module.res_module.res_module")):
            rows.append(Row(f"{keras_mod}_{i}/conv_1",
                            f"{prefix}{torch_mod}.{i}.conv_block.1", "conv_bias"))
            rows.append(Row(f"{keras_mod}_{i}/conv_2",
                            f"{prefix}{torch_mod}.{i}.conv_block.5", "conv_bias"))
    for i in range(NUM_DMF_BLOCKS):
        for conv in ("conv1", "conv2_1", "conv2_2", "conv2_4", "conv2_8", "conv3_1", "conv3_2",
                     "conv3_3", "conv4"):
            rows.append(Row(f"dmfb_{i}/{conv}",
                            f"{prefix}refine_module.dmfb_module.dmfb.{i}.{conv}", "conv_bias"))
    rows.append(Row("refine_concat_1", f"{prefix}refine_module.concatenation.0", "conv_bias"))
    rows.append(Row("refine_concat_2", f"{prefix}refine_module.concatenation.3", "conv_bias"))
    return tuple(rows)


#: ``(keras_path, state_dict prefix, kind)`` of :class:`RecurrentRefineNet` (``WrappingModule``).
GENERATOR_TABLE = _generator_table()

#: Prefixes of parity-fixture entries that are not generator weights.
LOSS_NETWORK_PREFIXES = ("vgg19.",)

DISCRIMINATOR_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "edge1", "edge2",
                        "edge3", "edge4", "edge5", "concat")


def _discriminator_table(prefix: str = "") -> tuple[Row, ...]:
    return tuple(Row(name, f"{prefix}{name}.conv", "spectral_norm")
                 for name in DISCRIMINATOR_LAYERS)


#: ``(keras_path, state_dict prefix, kind)`` of :class:`SobelEdgeDiscriminator`.
DISCRIMINATOR_TABLE = _discriminator_table()


def convert_config(state) -> dict:
    """``{"cnum": int}`` read from ``main_module.encoder_layer1.conv.weight`` (cnum, 4, 5, 5)."""
    key = "main_module.encoder_layer1.conv.weight"
    if key not in state:
        raise ConversionError(
            f"Not a Baik WrappingModule state_dict: missing key {key!r}. Received keys "
            f"(first 10): {sorted(state)[:10]}"
        )
    shape = tuple(np.shape(state[key]))
    if len(shape) != 4 or shape[1:] != (4, 5, 5) or shape[0] % 2:
        raise ConversionError(f"{key}: expected shape (cnum, 4, 5, 5). Received: shape={shape}")
    return {"cnum": int(shape[0])}


def _strip(state, prefix):
    if prefix and any(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return state


def convert_checkpoint(
    source,
    attention_mask_mode: str = "per_sample",
    return_intermediates: bool = False,
    ignore_prefixes: Iterable[str] = (),
):
    """Builds a :class:`RecurrentRefineNet` and loads an official generator checkpoint into it.

    Args:
        source: ``.pth`` (needs torch) / ``.npz`` path or a dict; a bare state_dict, or one
            whose generator keys start with ``"generator."`` (as the parity fixture holds them;
            other keys must then be covered by ``ignore_prefixes``).
        attention_mask_mode: see :class:`RecurrentRefineNet`. Defaults to `"per_sample"`.
        return_intermediates: passed to the model. Defaults to `False`.
        ignore_prefixes: state_dict prefixes to skip. Defaults to `()`.

    Returns:
        The model; ``model.conversion_config`` holds ``{"cnum"}``.

    Raises:
        ConversionError: listing every missing, extra and misshapen key.
    """
    from tfinpaint.models.recurrent import build_recurrent_refine

    state = load_checkpoint(source)
    ignore_prefixes = tuple(ignore_prefixes)
    if any(k.startswith("generator.") for k in state):
        extra = [k for k in state if not k.startswith("generator.")
                 and not k.startswith(ignore_prefixes)]
        if extra:
            raise ConversionError(
                f"keys outside 'generator.' not covered by ignore_prefixes ({len(extra)}): "
                f"{extra[:5]}"
            )
        state = _strip(state, "generator.")
    config = convert_config(state)
    model = build_recurrent_refine(attention_mask_mode=attention_mask_mode,
                                   return_intermediates=return_intermediates, **config)
    if not model.built:
        model.build(((None, None, None, 3), (None, None, None, 1)))
    load_state_dict(model, state, GENERATOR_TABLE, ignore_prefixes=ignore_prefixes)
    model.conversion_config = config
    return model


def drop_spectral_norm_aliases(state) -> dict:
    """Removes the ``<layer>.spec_norm.*`` duplicates of ``<layer>.conv.*`` after checking that
    they hold the same arrays (official ``DisConv`` registers one conv under both names)."""
    out, mismatched = {}, []
    for key, value in state.items():
        if ".spec_norm." in key:
            source = key.replace(".spec_norm.", ".conv.")
            if source not in state:
                out[key] = value  # left for the strict loader to report as extra
            elif not np.array_equal(np.asarray(value), np.asarray(state[source])):
                mismatched.append(key)
            continue
        out[key] = value
    if mismatched:
        raise ConversionError(
            "spec_norm aliases differ from their conv entries (torch would keep whichever "
            f"loads last): {mismatched[:5]}"
        )
    return out


def convert_discriminator(source, ignore_prefixes: Iterable[str] = ()):
    """Builds a :class:`SobelEdgeDiscriminator` and loads an official ``Discriminator``
    state_dict (bare, or with keys under ``"discriminator."``) into it, strictly.

    Returns:
        The discriminator; ``conversion_config`` holds ``{"cnum"}``.
    """
    from tfinpaint.models.sobel_discriminator import SobelEdgeDiscriminator

    state = load_checkpoint(source)
    ignore_prefixes = tuple(ignore_prefixes)
    if any(k.startswith("discriminator.") for k in state):
        extra = [k for k in state if not k.startswith("discriminator.")
                 and not k.startswith(ignore_prefixes)]
        if extra:
            raise ConversionError(
                f"keys outside 'discriminator.' not covered by ignore_prefixes ({len(extra)}): "
                f"{extra[:5]}"
            )
        state = _strip(state, "discriminator.")
    state = drop_spectral_norm_aliases(state)
    key = "conv1.conv.weight_orig"
    if key not in state:
        raise ConversionError(f"Not a Baik Discriminator state_dict: missing key {key!r}.")
    config = {"cnum": int(np.shape(state[key])[0])}
    model = SobelEdgeDiscriminator(**config, name="discriminator")
    load_state_dict(model, state, DISCRIMINATOR_TABLE, ignore_prefixes=ignore_prefixes)
    model.conversion_config = config
    return model


def export_state_dict(model) -> dict[str, np.ndarray]:
    """The generator's weights as an official ``WrappingModule`` state_dict."""
    return table_to_state_dict(model, GENERATOR_TABLE)
