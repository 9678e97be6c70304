"""Structural rules: lower floors do not import higher ones; registries fail loudly."""

import subprocess
import sys

import pytest


def test_losses_do_not_import_training():
    code = (
        "import sys, tfinpaint.losses, tfinpaint.losses.terms\n"
        "bad = sorted(m for m in sys.modules if m.startswith('tfinpaint.training'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_recipes_reexport_the_loss_vocabulary():
    from tfinpaint.losses import terms
    from tfinpaint.training import recipes

    assert recipes.LossTerm is terms.LossTerm and recipes.LOSS_NAMES is terms.LOSS_NAMES


@pytest.mark.parametrize(
    "module_path, attr, loader",
    [
        ("tfinpaint.models.registry", "_MODEL_MODULES", "list_models"),
        ("tfinpaint.training.recipes", "_RECIPE_MODULES", "list_recipes"),
    ],
)
def test_registry_missing_module_is_an_import_error(monkeypatch, module_path, attr, loader):
    import importlib

    module = importlib.import_module(module_path)
    missing = "tfinpaint.models.not_written_yet"
    monkeypatch.setattr(module, attr, (*getattr(module, attr), missing))
    monkeypatch.setattr(module, "_loaded", False)
    with pytest.raises(ImportError, match=r"tfinpaint\.models\.not_written_yet.*does not exist"):
        getattr(module, loader)()
