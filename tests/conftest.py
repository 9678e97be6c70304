"""Shared fixtures: real photos from ../shared/data/photos, quiet TensorFlow, small thread pools."""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PHOTOS = pathlib.Path(os.environ.get("TFINPAINT_PHOTOS", SHARED / "data" / "photos"))
FIXTURES = pathlib.Path(os.environ.get("TFINPAINT_FIXTURES", SHARED / "fixtures"))


def _require(path: pathlib.Path, what: str) -> pathlib.Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (set TFINPAINT_PHOTOS / TFINPAINT_FIXTURES)")
    return path


@pytest.fixture(scope="session")
def photos_dir() -> pathlib.Path:
    """Root of the real photo set (train/, val/, small/); skips when absent."""
    return _require(PHOTOS, "Real photo set ../shared/data/photos")


@pytest.fixture(scope="session")
def fixtures_dir() -> pathlib.Path:
    """Root of the official-code parity fixtures; skips when absent."""
    return _require(FIXTURES, "Parity fixtures ../shared/fixtures")
