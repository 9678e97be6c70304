"""RFR-Net trains through ``tfinpaint train`` on real photos and lowers validation L1."""

import json
import subprocess
import sys

import pytest


@pytest.mark.large
def test_cli_training_lowers_validation_l1(photos_dir, tmp_path):
    run = tmp_path / "rfr"
    cmd = [
        sys.executable, "-m", "tfinpaint", "train", "--model", "rfr_net",
        "--config", "iter_num=2",  # two recurrences keep the run short on 2 CPU cores
        "--images", str(photos_dir / "train"), "--val", str(photos_dir / "val"),
        "--size", "64", "--batch", "2", "--steps", "30", "--save-every", "15",
        "--val-batches", "2", "--vgg-weights", "none", "--seed", "1", "--out", str(run),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    history = [json.loads(line) for line in (run / "validation.jsonl").read_text().splitlines()]
    print("\n".join(json.dumps(h) for h in history))
    assert [h["step"] for h in history] == [0, 15, 30]
    first, last = history[0], history[-1]
    assert last["l1"] < 0.75 * first["l1"], history
    assert last["hole_l1"] < 0.75 * first["hole_l1"], history
    assert (run / "generator.weights.h5").is_file()
