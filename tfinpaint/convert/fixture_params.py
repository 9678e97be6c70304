"""Rebuilds the parameters of a parity fixture (``shared/fixtures/<model>/manifest.json``).

The fixtures store no weights: each ``params`` entry ``i`` of the manifest is ``{name, shape,
dist, ...}`` and its array is drawn with numpy alone (fixtures README):

```
rng = numpy.random.default_rng([seed, i])
normal:  rng.standard_normal(shape) * std + mean
uniform: rng.uniform(low, high, shape)
const:   numpy.full(shape, value)
then .astype(numpy.float32)
```

Names and shapes are PyTorch's (Conv2d ``(out, in, kh, kw)``, ConvTranspose2d
``(in, out, kh, kw)``). ``param_aliases`` (one module registered under two names) are filled
from the entry they point to, so a strict loader sees the complete official ``state_dict``.
"""

from __future__ import annotations

import json
import os

import numpy as np


def draw_param(entry: dict, seed: int, index: int) -> np.ndarray:
    """Draws the float32 array of manifest ``params`` entry ``index``."""
    shape = tuple(int(s) for s in entry["shape"])
    rng = np.random.default_rng([int(seed), int(index)])
    dist = entry.get("dist")
    if dist == "normal":
        value = rng.standard_normal(shape) * float(entry["std"]) + float(entry["mean"])
    elif dist == "uniform":
        value = rng.uniform(float(entry["low"]), float(entry["high"]), shape)
    elif dist == "const":
        value = np.full(shape, entry["value"])
    else:
        raise ValueError(
            f"Unknown dist in fixture param {index} ({entry.get('name')!r}); expected normal, "
            f"uniform or const. Received: dist={dist!r}"
        )
    return np.asarray(value).astype(np.float32)


def fixture_state_dict(
    manifest_path: str | os.PathLike,
    prefix: str | None = None,
    include_aliases: bool = True,
) -> dict[str, np.ndarray]:
    """Returns ``{torch name: float32 array}`` for every parameter of a fixture manifest.

    Args:
        manifest_path: path of ``manifest.json`` (or of the fixture folder holding it).
        prefix: keep only names starting with it (e.g. ``"vgg16."``); the prefix is kept in the
            returned names. ``None`` (default) keeps everything. Only the selected entries are
            drawn.
        include_aliases: add the ``param_aliases`` names (alias -> array of the entry it
            names). Defaults to ``True``.

    Returns:
        dict in manifest order (aliases last).
    """
    path = os.fspath(manifest_path)
    if os.path.isdir(path):
        path = os.path.join(path, "manifest.json")
    if not os.path.isfile(path):
        raise ValueError(f"Fixture manifest not found. Received: manifest_path={path!r}")
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    if "seed" not in manifest or "params" not in manifest:
        raise ValueError(f"{path}: a fixture manifest needs 'seed' and 'params' entries.")
    seed = manifest["seed"]
    state: dict[str, np.ndarray] = {}
    for i, entry in enumerate(manifest["params"]):
        name = entry["name"]
        if prefix is not None and not name.startswith(prefix):
            continue
        if name in state:
            raise ValueError(f"{path}: duplicate parameter name {name!r} (entry {i}).")
        state[name] = draw_param(entry, seed, i)
    if include_aliases:
        for alias, source in (manifest.get("param_aliases") or {}).items():
            if prefix is not None and not alias.startswith(prefix):
                continue
            if source not in state:
                if prefix is None:
                    raise ValueError(f"{path}: alias {alias!r} points to unknown {source!r}.")
                continue
            state[alias] = state[source]
    return state


def fixture_cases(folder: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """``(arrays, tolerances)`` of a fixture folder: every ``<case>/<array>`` of ``cases.npz``
    and, per case name, the manifest's ``{output key: absolute tolerance}``."""
    folder = os.fspath(folder)
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    with np.load(os.path.join(folder, "cases.npz")) as data:
        arrays = {k: data[k] for k in data.files}
    return arrays, {c["name"]: c["tolerance"] for c in manifest["cases"]}
