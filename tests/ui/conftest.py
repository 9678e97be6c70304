"""Fixtures of the ``tfinpaint ui`` tests: a tiny trained-run directory, a server, a browser."""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import pytest

CHROMIUM = pathlib.Path(os.environ.get("TFINPAINT_CHROMIUM", "/usr/bin/chromium"))
# Debian's browser, headless, with nothing fetched from outside the machine.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NETWORK = "pconv_unet"


def write_run(folder: pathlib.Path, weights: bool = True) -> pathlib.Path:
    """A run directory of a small ``pconv_unet`` (its registry ``test_config``) as the trainer
    writes it: ``config.json`` + ``generator.weights.h5``, with fixed non-initial weights."""
    from tfinpaint.inference import RUN_CONFIG, RUN_WEIGHTS
    from tfinpaint.models import registry

    overrides = registry.get_spec(NETWORK).metadata["test_config"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_CONFIG).write_text(json.dumps({"model": NETWORK, "config": overrides}))
    if weights:
        model = registry.build(NETWORK, **overrides)
        for i, v in enumerate(model.weights):  # kernels only: BatchNorm statistics stay valid
            if len(v.shape) == 4:
                n = int(np.prod(v.shape))
                wave = np.cos(np.arange(n) * 0.7 + i).reshape(v.shape) * 0.05
                v.assign(v.numpy() + wave.astype(v.dtype))
        model.save_weights(str(folder / RUN_WEIGHTS))
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> pathlib.Path:
    return write_run(tmp_path_factory.mktemp("ui") / "pconv_tiny")


@pytest.fixture(scope="session")
def broken_run(tmp_path_factory) -> pathlib.Path:
    """A run directory whose weights file is not HDF5: loading it fails."""
    from tfinpaint.inference import RUN_WEIGHTS

    folder = write_run(tmp_path_factory.mktemp("ui") / "broken_run", weights=False)
    (folder / RUN_WEIGHTS).write_bytes(b"these are not weights")
    return folder


@pytest.fixture(scope="session")
def photo(photos_dir) -> pathlib.Path:
    """A real photo, 245x320 (small, portrait)."""
    return photos_dir / "small" / "gcompris-bucket.jpg"


@pytest.fixture(scope="module")
def ui_server(tiny_run, broken_run):
    from tfinpaint.ui import InpaintService, UIServer, create_app

    service = InpaintService([tiny_run, "cv2-telea", broken_run], max_side=1024)
    with UIServer(create_app(service)) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    missing = None
    try:
        from playwright import sync_api
    except ImportError:
        missing = "Playwright is not installed: pip install -e '.[dev]'"
    if not CHROMIUM.exists():
        missing = f"Chromium not found at {CHROMIUM}: apt-get install chromium (.ci/run does)"
    if missing:
        if os.environ.get("CI"):  # CI must run the browser tests, never skip them
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()
