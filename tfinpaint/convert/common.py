"""Reusable pieces for porting official PyTorch checkpoints to Keras, strictly.

A converter is a mapping table of rows ``(keras_layer_path, state_dict_prefix, kind)`` plus one
porter per ``kind`` (KerasHub ``convert_resnet.py`` style). :func:`load_state_dict` applies a
table and fails, listing every problem at once, when a state_dict key is missing, unused
(extra) or has a shape other than the Keras variable expects. (The official PyTorch loaders
often call ``load_state_dict(strict=False)``, which silently skips such keys and leaves random
weights behind.)

Layouts (DESIGN section 8):

- ``Conv2d.weight`` ``(out, in, kh, kw)`` -> Keras ``Conv2D.kernel`` ``(kh, kw, in, out)``:
  transpose ``(2, 3, 1, 0)``.
- ``ConvTranspose2d.weight`` ``(in, out, kh, kw)`` -> Keras ``Conv2DTranspose.kernel``
  ``(kh, kw, out, in)``: also transpose ``(2, 3, 1, 0)``, no spatial flip (both frameworks
  scatter ``in[i, y] * W[.., ky]`` to ``out[y * s + ky - p]``).
- ``BatchNorm2d`` ``weight, bias, running_mean, running_var`` -> ``gamma, beta, moving_mean,
  moving_variance`` (``num_batches_tracked`` is accepted and unused: PyTorch uses it only when
  ``momentum=None``).
- a parameter tensor (``nn.Parameter``) -> a Keras weight of the same shape.

Checkpoints are read from ``.pth``/``.pt`` (PyTorch, imported lazily; torch is optional and only
needed for this) or ``.npz`` (keys = state_dict names), or given as a dict.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Iterable, Mapping

import numpy as np

CONV_PERMUTATION = (2, 3, 1, 0)
# Inverse of CONV_PERMUTATION: Keras (kh, kw, in, out) -> torch (out, in, kh, kw).
_INVERSE_CONV = tuple(int(i) for i in np.argsort(CONV_PERMUTATION))
BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var")
BN_IGNORED = ("num_batches_tracked",)
KINDS = ("conv", "conv_bias", "conv_transpose", "bn", "param")


class ConversionError(ValueError):
    """A checkpoint does not fit the Keras model; the message lists every problem."""


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of a mapping table.

    Args:
        keras_path: ``"/"``-separated layer names from the model (``"rfr_module/enc_1_conv"``),
            ending in the weight's attribute name for ``kind="param"``
            (``"rfr_module/att/att/ratio"``).
        prefix: state_dict key prefix (``"RFRModule.enc_1.0"``); for ``"param"`` the full key.
        kind: ``"conv"`` (kernel only; also partial convs), ``"conv_bias"`` (kernel + bias),
            ``"conv_transpose"``, ``"bn"`` or ``"param"``.
    """

    keras_path: str
    prefix: str
    kind: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}. Received: kind={self.kind!r}")


# ----------------------------------------------------------------------------------------------
# Porters: torch array -> Keras array (and the torch shape a Keras shape expects)
# ----------------------------------------------------------------------------------------------
def port_conv_kernel(weight: np.ndarray) -> np.ndarray:
    """``Conv2d.weight`` ``(out, in, kh, kw)`` -> Keras ``(kh, kw, in, out)``."""
    return np.ascontiguousarray(np.transpose(weight, CONV_PERMUTATION))


def port_conv_transpose_kernel(weight: np.ndarray) -> np.ndarray:
    """``ConvTranspose2d.weight`` ``(in, out, kh, kw)`` -> Keras ``(kh, kw, out, in)``."""
    return np.ascontiguousarray(np.transpose(weight, CONV_PERMUTATION))


def torch_conv_shape(keras_shape) -> tuple[int, ...]:
    """Torch shape whose :func:`port_conv_kernel` (or transpose-kernel) has ``keras_shape``."""
    return tuple(int(keras_shape[i]) for i in _INVERSE_CONV)


def port_batch_norm(state: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """``{gamma, beta, moving_mean, moving_variance}`` from ``prefix.{weight, bias, ...}``."""
    return {
        "gamma": state[f"{prefix}.weight"],
        "beta": state[f"{prefix}.bias"],
        "moving_mean": state[f"{prefix}.running_mean"],
        "moving_variance": state[f"{prefix}.running_var"],
    }


# ----------------------------------------------------------------------------------------------
# Reading checkpoints
# ----------------------------------------------------------------------------------------------
def _to_numpy(value, key):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):  # torch.Tensor
        return value.detach().cpu().numpy()
    if np.isscalar(value):
        return np.asarray(value)
    raise ConversionError(f"state_dict entry {key!r} is not an array. Received: {type(value)}")


def extract_state_dict(checkpoint, container_keys=("generator", "state_dict", "model")) -> dict:
    """Returns a plain ``{name: np.ndarray}`` from a checkpoint object.

    Accepts a bare state_dict or a dict holding one under one of ``container_keys`` (the RFR
    training script saves ``{'n_iter', 'generator': state_dict, 'optimizer_G': ...}``). Values
    may be numpy arrays or torch tensors. A common ``"module."`` prefix (``nn.DataParallel``)
    is removed.
    """
    if not isinstance(checkpoint, Mapping):
        raise ConversionError(
            f"A checkpoint must be a dict (a state_dict or {{'generator': state_dict, ...}}). "
            f"Received: {type(checkpoint).__name__}"
        )
    state = checkpoint
    for key in container_keys:
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping):
            state = inner
            break
    if not state:
        raise ConversionError("The checkpoint's state_dict is empty.")
    out = {str(k): _to_numpy(v, k) for k, v in state.items()}
    if all(k.startswith("module.") for k in out):
        out = {k[len("module."):]: v for k, v in out.items()}
    return out


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Reads ``.pth``/``.pt``/``.ckpt`` (needs PyTorch) or ``.npz`` into a raw object.

    ``.npz`` gives ``{key: array}``; a PyTorch file gives what ``torch.load`` returns
    (``weights_only=True``: tensors, dicts and numbers only, no pickled code).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        import zipfile

        if not zipfile.is_zipfile(path):
            raise ConversionError(
                f"file {path}: not a readable .npz of arrays (not a zip archive; write it with "
                "numpy.savez)"
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: np.asarray(data[k]) for k in data.files}
        except ValueError as e:
            if "pickle" in str(e):
                raise ConversionError(
                    f"file {path}: the .npz holds pickled Python objects, which are never "
                    "loaded (they can run code). Save plain arrays: numpy.savez(out, **{k: "
                    "v.numpy() for k, v in state_dict.items()})."
                ) from None
            raise ConversionError(f"file {path}: not a readable .npz of arrays ({e})") from None
        except (OSError, EOFError, zipfile.BadZipFile) as e:
            raise ConversionError(
                f"file {path}: not a readable .npz of arrays ({type(e).__name__}: {e})"
            ) from None
    if suffix in (".pth", ".pt", ".ckpt", ".bin"):
        try:
            import torch
        except ImportError:
            raise ImportError(
                f"Reading the PyTorch checkpoint {path} needs the optional dependency torch "
                "(pip install torch --index-url https://download.pytorch.org/whl/cpu), or "
                "convert it to .npz on a machine that has torch: numpy.savez(out, **{k: "
                "v.numpy() for k, v in state_dict.items()})."
            ) from None
        return torch.load(path, map_location="cpu", weights_only=True)
    raise ConversionError(
        f"file {path}: unknown checkpoint format {suffix!r}; expected .pth/.pt (PyTorch) or "
        ".npz (numpy, keys = state_dict names)."
    )


def load_checkpoint(source) -> dict:
    """A path (``.pth``/``.npz``) or a dict -> ``{name: np.ndarray}`` state_dict."""
    if isinstance(source, (str, os.PathLike)):
        return extract_state_dict(read_checkpoint(source))
    return extract_state_dict(source)


# ----------------------------------------------------------------------------------------------
# The strict loader
# ----------------------------------------------------------------------------------------------
def find_layer(model, path: str):
    """The sublayer at ``"a/b/c"`` (names of nested layers), searching tracked children."""
    layer = model
    for part in path.split("/"):
        children = {c.name: c for c in _children(layer)}
        if part not in children:
            raise KeyError(
                f"No layer named {part!r} under {layer.name!r} (path {path!r}). Children: "
                f"{sorted(children)}"
            )
        layer = children[part]
    return layer


def _children(layer):
    return list(getattr(layer, "_layers", []) or [])


def _targets(model, row: Row) -> list[tuple[str, object, tuple[int, ...], callable]]:
    """``[(state_key, keras_variable, expected_torch_shape, port_fn)]`` for one row."""
    if row.kind == "param":
        layer_path, _, weight_name = row.keras_path.rpartition("/")
        layer = find_layer(model, layer_path) if layer_path else model
        var = getattr(layer, weight_name, None)
        if var is None:
            raise KeyError(f"Layer {layer_path!r} has no weight {weight_name!r}.")
        return [(row.prefix, var, tuple(var.shape), np.asarray)]
    layer = find_layer(model, row.keras_path)
    if row.kind in ("conv", "conv_bias", "conv_transpose"):
        kernel = layer.kernel
        port = port_conv_transpose_kernel if row.kind == "conv_transpose" else port_conv_kernel
        out = [(f"{row.prefix}.weight", kernel, torch_conv_shape(kernel.shape), port)]
        if row.kind == "conv_bias":
            out.append((f"{row.prefix}.bias", layer.bias, tuple(layer.bias.shape), np.asarray))
        elif getattr(layer, "bias", None) is not None:
            raise KeyError(f"Layer {row.keras_path!r} has a bias but the row is kind 'conv'.")
        return out
    if row.kind == "bn":
        pairs = zip(BN_SUFFIXES, ("gamma", "beta", "moving_mean", "moving_variance"))
        return [
            (f"{row.prefix}.{suffix}", getattr(layer, attr), tuple(getattr(layer, attr).shape),
             np.asarray)
            for suffix, attr in pairs
        ]
    raise ValueError(f"Unknown kind {row.kind!r}")


def load_state_dict(
    model,
    state: Mapping[str, np.ndarray],
    table: Iterable[Row],
    ignore_prefixes: Iterable[str] = (),
    check_all_variables: bool = True,
) -> dict:
    """Assigns ``state`` to ``model`` through ``table``, strictly.

    Every key of ``state`` must be used (except BatchNorm ``num_batches_tracked`` and keys under
    ``ignore_prefixes``), every key the table needs must be present with the exact shape, and
    (``check_all_variables``) every variable of the model must be assigned. All problems are
    collected and raised together as :class:`ConversionError`; nothing is assigned unless the
    whole checkpoint fits.

    Returns:
        ``{"assigned": n_variables, "ignored": [keys]}``.
    """
    table = list(table)
    ignore_prefixes = tuple(ignore_prefixes)
    missing, misshapen, nonfinite = [], [], []
    assignments = []
    used = set()
    for row in table:
        for key, var, torch_shape, port in _targets(model, row):
            used.add(key)
            if key not in state:
                missing.append(f"{key} (expected shape {list(torch_shape)}, for "
                               f"{row.keras_path})")
                continue
            value = np.asarray(state[key])
            if tuple(value.shape) != torch_shape:
                misshapen.append(f"{key}: checkpoint shape {list(value.shape)}, expected "
                                 f"{list(torch_shape)} (for {row.keras_path})")
                continue
            bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
            if bad:
                nonfinite.append(f"{key} ({bad} of {np.size(value)} values)")
                continue
            assignments.append((key, var, port(value.astype(np.float32))))
    ignored = []
    extra = []
    for key in state:
        if key in used:
            continue
        if key.rsplit(".", 1)[-1] in BN_IGNORED or key.startswith(ignore_prefixes):
            ignored.append(key)
        else:
            extra.append(f"{key} (shape {list(np.shape(state[key]))})")
    unassigned = []
    if check_all_variables:
        planned_ids = {
            id(var) for row in table for _, var, _, _ in _targets(model, row)
        }
        for var in model.weights:
            if id(var) not in planned_ids:
                unassigned.append(getattr(var, "path", var.name))
    problems = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): " + "; ".join(missing))
    if extra:
        problems.append(f"unexpected (extra) keys ({len(extra)}): " + "; ".join(extra))
    if misshapen:
        problems.append(f"misshapen keys ({len(misshapen)}): " + "; ".join(misshapen))
    if nonfinite:
        problems.append(
            f"keys holding NaN or Inf ({len(nonfinite)}; a diverged or corrupted checkpoint): "
            + "; ".join(nonfinite)
        )
    if unassigned:
        problems.append(
            f"Keras variables with no checkpoint entry ({len(unassigned)}): "
            + "; ".join(unassigned)
        )
    if problems:
        raise ConversionError(
            "The checkpoint does not match the model (nothing was loaded):\n  - "
            + "\n  - ".join(problems)
        )
    for _, var, value in assignments:
        var.assign(value)
    return {"assigned": len(assignments), "ignored": ignored}


def table_to_state_dict(model, table: Iterable[Row]) -> dict[str, np.ndarray]:
    """The inverse of :func:`load_state_dict`: the model's weights as an official state_dict
    (``num_batches_tracked`` omitted). Used for round-trip tests and ``.npz`` export."""
    state = {}
    for row in table:
        for key, var, torch_shape, port in _targets(model, row):
            value = np.asarray(var.numpy() if hasattr(var, "numpy") else var)
            if port in (port_conv_kernel, port_conv_transpose_kernel):
                value = np.transpose(value, _INVERSE_CONV)
            state[key] = np.ascontiguousarray(value.reshape(torch_shape).astype(np.float32))
    return state
