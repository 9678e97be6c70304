"""Loss-weight overrides for every recipe: ``Recipe.with_loss_weights`` and
``tfinpaint train --loss-weight NAME=WEIGHT`` (one mechanism, any model)."""

from __future__ import annotations

import json

import pytest

from tfinpaint.cli import main
from tfinpaint.training.recipes import get_recipe


def test_with_loss_weights_sets_drops_and_checks_names():
    base = get_recipe("recurrent_refine")
    r = base.with_loss_weights({"sobel": 0, "style": 2.5, "adversarial": 0.1})
    weights = {t.metric_name: t.weight for t in r.terms}
    assert "sobel" not in weights and weights["style"] == 2.5
    assert weights["refine_l1"] == 5.0 and r.adversarial_weight == 0.1
    assert len(r.terms) == len(base.terms) - 1 and r.adversarial == "hinge"
    assert base.with_loss_weights({}) == base
    # Names are the logged metric names (a named term by its name, not its loss kind).
    with pytest.raises(KeyError, match=r"Unknown loss names \['high_frequency'\].*hp_l1"):
        base.with_loss_weights({"high_frequency": 1.0})
    for bad in (-1.0, float("nan"), float("inf"), "1", True):
        with pytest.raises(ValueError, match="finite numbers >= 0"):
            base.with_loss_weights({"sobel": bad})
    # Any recipe: pconv_unet's VGG terms dropped gives the offline recipe's terms.
    pconv = get_recipe("pconv_unet").with_loss_weights({"perceptual": 0, "style": 0})
    assert pconv.terms == get_recipe("pconv_unet_pixel").terms


def test_cli_rejects_bad_loss_weights_before_training(photos_dir, tmp_path, capsys):
    base = ["train", "--model", "recurrent_refine", "--images", str(photos_dir / "train"),
            "--steps", "1", "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit):
        main(base + ["--loss-weight", "sobel"])
    assert "expected NAME=WEIGHT" in capsys.readouterr().err
    assert main(base + ["--loss-weight", "edges=0"]) == 2
    err = capsys.readouterr().err
    assert "Unknown loss names ['edges']" in err and "'sobel'" in err, err
    assert not (tmp_path / "run" / "config.json").exists()


def test_run_config_records_loss_weights_and_resume_checks_them(tmp_path):
    from tfinpaint.training.run import _run_config, _write_config

    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    _write_config(out, _run_config(model="m", loss_weights={"sobel": 0.0}))
    assert json.loads((out / "config.json").read_text())["loss_weights"] == {"sobel": 0.0}
    (out / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (out / "checkpoints" / "ckpt-1.index").write_bytes(b"")
    with pytest.raises(ValueError, match="loss_weights"):
        _write_config(out, _run_config(model="m", loss_weights=None))
