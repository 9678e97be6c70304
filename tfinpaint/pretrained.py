"""Trained weights shipped inside the package (nothing is downloaded).

**The one place that names the default learned model**: :data:`DEFAULT_MODEL` and
:func:`default_model_path`. ``Inpainter()``, ``tfinpaint inpaint`` without ``--model``,
``tfinpaint demo``'s picture, ``make saved-models`` and the web page read it from here.

Each shipped model is a folder ``tfinpaint/pretrained/<name>/`` laid out as a training run
directory, so :func:`tfinpaint.inference.load` reads it like one:

* ``config.json``: ``{"model": registry name, "config": constructor overrides, ...}``;
* ``generator.weights.h5``: Keras weights stored as **float16** (half the size; Keras casts them
  to the variables' float32 on load; :func:`save_weights_float16` writes them);
* ``MODEL_CARD.md``: data, recipe, steps, CPU time, metrics, limits;
* ``SOURCES.tsv``: the licences and attribution of the training photos;
* ``training.json``: the plan and record of the run the weights came from.

A shipped name (``"pconv_unet_default"``) is accepted wherever a model name is
(``tfinpaint.inference.load``, ``Inpainter``, ``tfinpaint evaluate/export/tflite/inpaint``).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

__all__ = [
    "DEFAULT_MODEL",
    "PRETRAINED_ROOT",
    "default_model_path",
    "list_pretrained",
    "pretrained_path",
    "save_weights_float16",
]

#: Folder of the shipped models.
PRETRAINED_ROOT = pathlib.Path(__file__).resolve().parent / "pretrained"
#: Name of the default learned model (a folder of :data:`PRETRAINED_ROOT`).
DEFAULT_MODEL = "pconv_unet_default"
_FILES = ("config.json", "generator.weights.h5")


def list_pretrained() -> list[str]:
    """Names of the shipped models (folders holding ``config.json`` + weights)."""
    if not PRETRAINED_ROOT.is_dir():
        return []
    return sorted(
        p.name for p in PRETRAINED_ROOT.iterdir()
        if p.is_dir() and all((p / f).is_file() for f in _FILES)
    )


def pretrained_path(name: str = DEFAULT_MODEL) -> pathlib.Path:
    """The folder of shipped model ``name`` (a run directory for ``tfinpaint.inference.load``).

    Raises:
        KeyError: ``name`` is not shipped (the message lists what is).
    """
    if name not in list_pretrained():
        raise KeyError(
            f"No shipped model named {name!r}; shipped: {list_pretrained()} "
            f"(in {PRETRAINED_ROOT})"
        )
    return PRETRAINED_ROOT / name


def default_model_path() -> pathlib.Path:
    """The folder of :data:`DEFAULT_MODEL`."""
    return pretrained_path(DEFAULT_MODEL)


def save_weights_float16(model, path) -> pathlib.Path:
    """Writes ``model.save_weights(path)`` with every float array stored as float16.

    Keras ``load_weights`` casts them back to the variables' dtype, so the file loads like any
    ``.weights.h5``; the values are the float32 ones rounded to float16 (relative error
    <= 2 ** -11; BatchNorm moving variances stay well inside float16's range).
    """
    import h5py
    import numpy as np

    path = pathlib.Path(path)
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"path must end with .weights.h5. Received: path={path}")
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "model.weights.h5")
        model.save_weights(raw)
        with h5py.File(raw, "r+") as f:
            names = []

            def collect(name, obj):  # visititems stops at the first non-None return
                if isinstance(obj, h5py.Dataset):
                    names.append(name)

            f.visititems(collect)
            for name in names:
                data = f[name][()]
                if np.issubdtype(data.dtype, np.floating) and data.dtype != np.float16:
                    big = np.abs(data).max(initial=0.0)
                    if big > np.finfo(np.float16).max:
                        raise ValueError(
                            f"Weight {name} reaches {big:g}, beyond float16's range."
                        )
                    attrs = dict(f[name].attrs)
                    del f[name]
                    f.create_dataset(name, data=data.astype(np.float16))
                    f[name].attrs.update(attrs)
        # h5py leaves deleted datasets' space in the file: copy into a compact one.
        compact = os.path.join(tmp, "compact.weights.h5")
        with h5py.File(raw, "r") as src, h5py.File(compact, "w") as dst:
            dst.attrs.update(dict(src.attrs))
            for key in src:
                src.copy(src[key], dst, name=key)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(compact, path)
    return path
