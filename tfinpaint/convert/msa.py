"""Official MANet checkpoints (``wangning-001/MANet``) -> :class:`MSANet` (+ its discriminator).

The official training script saves ``{'n_iter', 'generator': G.state_dict(), 'optimizer_G'}``
(``utils/io.py::save_ckpt``; the discriminator is not saved there) and loads with
``strict=False``. This converter accepts

- that file (or a bare generator state_dict): the generator only;
- a combined state_dict with ``generator.`` / ``discriminator.`` prefixes (``PconvUNetFull``'s
  modules, as in the parity fixture), or a dict ``{'generator': ..., 'discriminator': ...}``:
  the generator and the discriminator.

It is strict: every key must map and every Keras variable must be filled, else
:class:`~tfinpaint.convert.common.ConversionError` lists the problems. Mapping (tables
:func:`generator_table`, :data:`DISCRIMINATOR_TABLE`):

- ``enc_i.conv`` / ``dec_i.conv`` (partial convs with bias) -> ``enc_i`` / ``dec_i``;
  ``enc_i.bn`` / ``dec_i.bn`` -> ``enc_i_bn`` / ``dec_i_bn``;
- ``CA_j.SqueezeExc.blocks.0`` / ``.2`` (``nn.Linear``) -> ``ca_j/squeeze_excitation/fc1`` /
  ``fc2`` (kind ``linear``), ``CA_j.combiner`` -> ``ca_j/combiner``;
- ``conv{k}.0.weight_orig`` / ``weight_u`` / ``weight_v`` (``torch.nn.utils.spectral_norm``)
  -> :class:`~tfinpaint.layers.SpectralNorm` ``conv_{k}`` (kind ``spectral_norm``).
  The official ``Discriminator`` registers ``conv1`` twice (``self.conv1 = self.features``),
  so its state_dict also holds ``features.0.*``; those aliases must equal ``conv1.0.*`` and
  are then dropped (loading two different values would silently keep the last one in torch).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np

from tfinpaint.convert.common import (
    ConversionError,
    Row,
    extract_state_dict,
    load_state_dict,
    read_checkpoint,
    table_to_state_dict,
)

G_PREFIX = "generator."
D_PREFIX = "discriminator."
#: Prefixes of parity-fixture entries that are not model weights (the VGG16 loss network).
LOSS_NETWORK_PREFIXES = ("vgg16.",)
#: The official Discriminator's second name for ``conv1`` (``self.conv1 = self.features``).
D_ALIASES = {"features.0": "conv1.0"}

#: The mapping table of the discriminator (keys without the ``discriminator.`` prefix).
DISCRIMINATOR_TABLE = tuple(Row(f"conv_{k}", f"conv{k}.0", "spectral_norm") for k in range(1, 6))


def generator_table(layer_size: int = 8) -> tuple[Row, ...]:
    """The generator's mapping table (keys without the ``generator.`` prefix)."""
    rows = []
    for i in range(1, layer_size + 1):
        rows.append(Row(f"enc_{i}", f"enc_{i}.conv", "conv_bias"))
        if i > 1:
            rows.append(Row(f"enc_{i}_bn", f"enc_{i}.bn", "bn"))
    for i in range(layer_size, 0, -1):
        rows.append(Row(f"dec_{i}", f"dec_{i}.conv", "conv_bias"))
        if i > 1:
            rows.append(Row(f"dec_{i}_bn", f"dec_{i}.bn", "bn"))
    for j in (1, 2):
        rows += [
            Row(f"ca_{j}/squeeze_excitation/fc1", f"CA_{j}.SqueezeExc.blocks.0", "linear"),
            Row(f"ca_{j}/squeeze_excitation/fc2", f"CA_{j}.SqueezeExc.blocks.2", "linear"),
            Row(f"ca_{j}/combiner", f"CA_{j}.combiner", "conv_bias"),
        ]
    return tuple(rows)


def _strip(state: Mapping, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def split_checkpoint(source, ignore_prefixes: Iterable[str] = ()) -> tuple[dict, dict | None]:
    """``(generator_state, discriminator_state or None)`` without prefixes, aliases resolved.

    Args:
        source: path (``.pth``/``.npz``) or dict, in any form the module docstring lists.
        ignore_prefixes: full-key prefixes to drop first (e.g. ``("vgg16.",)``).
    """
    raw = read_checkpoint(source) if not isinstance(source, Mapping) else source
    ignore_prefixes = tuple(ignore_prefixes)
    if isinstance(raw.get("generator"), Mapping) and isinstance(raw.get("discriminator"),
                                                                 Mapping):
        g_state = extract_state_dict(raw["generator"])
        d_state = extract_state_dict(raw["discriminator"])
    else:
        state = extract_state_dict(raw)
        state = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes)}
        if any(k.startswith(G_PREFIX) for k in state):
            g_state, d_state = _strip(state, G_PREFIX), _strip(state, D_PREFIX)
            other = sorted(k for k in state if not k.startswith((G_PREFIX, D_PREFIX)))
            if other:
                raise ConversionError(
                    f"Keys outside 'generator.' / 'discriminator.' ({len(other)}): "
                    f"{other[:10]}; pass ignore_prefixes to skip them."
                )
            d_state = d_state or None
        else:
            g_state, d_state = state, None
    if d_state is not None:
        d_state = _resolve_aliases(d_state)
    return g_state, d_state


def _resolve_aliases(d_state: dict) -> dict:
    out = {}
    for key, value in d_state.items():
        for alias, name in D_ALIASES.items():
            if key.startswith(alias + "."):
                target = name + key[len(alias):]
                if target not in d_state:
                    raise ConversionError(f"discriminator alias {key!r} has no {target!r}.")
                if not np.array_equal(np.asarray(value), np.asarray(d_state[target])):
                    raise ConversionError(
                        f"discriminator keys {key!r} and {target!r} name the same module but "
                        "hold different values."
                    )
                break
        else:
            out[key] = value
    return out


def convert_config(g_state: Mapping) -> dict:
    """``{"layer_size": L}`` read from the ``enc_i.conv.weight`` keys."""
    levels = sorted(int(m.group(1)) for k in g_state
                    if (m := re.fullmatch(r"enc_(\d+)\.conv\.weight", k)))
    if not levels:
        raise ConversionError(
            "Not a MANet generator state_dict: no 'enc_<i>.conv.weight' keys. Received keys "
            f"(first 10): {sorted(g_state)[:10]}"
        )
    if levels != list(range(1, len(levels) + 1)):
        raise ConversionError(f"enc levels must be 1..L without gaps. Received: {levels}")
    return {"layer_size": len(levels)}


def convert_checkpoint(source, return_intermediates: bool = False,
                       ignore_prefixes: Iterable[str] = ()):
    """Builds :class:`MSANet` (and, if the checkpoint has one, its discriminator) and loads it.

    Args:
        source: path of a ``.pth``/``.pt`` (needs torch) or ``.npz`` file, or a dict.
        return_intermediates: passed to the model. Defaults to `False`.
        ignore_prefixes: state_dict prefixes to skip (``("vgg16.",)`` for the parity fixture).

    Returns:
        The generator; ``model.conversion_config`` holds its constructor arguments and
        ``model.converted_discriminator`` the loaded discriminator (or ``None``).

    Raises:
        ConversionError: listing every missing, extra and misshapen key.
    """
    from tfinpaint.models.msa import MSANet, build_msa_discriminator

    g_state, d_state = split_checkpoint(source, ignore_prefixes)
    config = convert_config(g_state)
    model = MSANet(return_intermediates=return_intermediates, **config)
    load_state_dict(model, g_state, generator_table(config["layer_size"]))
    discriminator = None
    if d_state is not None:
        discriminator = build_msa_discriminator()
        discriminator(np.zeros((1, 32, 32, 3), "float32"))  # create u, v
        load_state_dict(discriminator, d_state, DISCRIMINATOR_TABLE)
    model.conversion_config = config
    model.converted_discriminator = discriminator
    return model


def export_state_dict(model, discriminator=None) -> dict[str, np.ndarray]:
    """The weights as an official state_dict: bare generator keys, or ``generator.`` /
    ``discriminator.`` prefixed (with the ``features.0`` alias) when a discriminator is given."""
    g = table_to_state_dict(model, generator_table(model.layer_size))
    if discriminator is None:
        return g
    d = table_to_state_dict(discriminator, DISCRIMINATOR_TABLE)
    for alias, name in D_ALIASES.items():
        d.update({alias + k[len(name):]: v for k, v in list(d.items()) if k.startswith(name)})
    return {**{G_PREFIX + k: v for k, v in g.items()}, **{D_PREFIX + k: v for k, v in d.items()}}
