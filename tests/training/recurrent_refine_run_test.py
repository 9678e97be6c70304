"""``tfinpaint train --model recurrent_refine``: a GAN run on the real photos, killed and resumed.

Both the generator and the discriminator losses move, validation runs with the feature-matching
term (the discriminator in inference mode inside ``test_step``), the learning-rate schedule is
recipe data, and a SIGKILLed run resumes from its last checkpoint with its counters.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest

from tests.training.run_test import REPO, TRAIN_ENV, _ckpt_values, run_until_saved_then_sigkill


def _values(stdout, name):
    return [float(v) for v in re.findall(rf"\b{name}: (-?[0-9.]+(?:e-?[0-9]+)?)", stdout)]


@pytest.mark.large  # ~3 min on 2 busy cores: a GAN with a VGG19 loss network, kill + resume
def test_cli_gan_run_validates_and_resumes_after_sigkill(photos_dir, tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "tfinpaint", "train", "--model", "recurrent_refine",
            "--config", "cnum=8", "--images", str(photos_dir / "train"),
            "--val", str(photos_dir / "val"), "--val-batches", "2", "--size", "64",
            "--batch", "2", "--save-every", "6", "--val-every", "6", "--vgg-weights", "none",
            "--masks", "lama_thick", "--out", str(out)]
    first_out = run_until_saved_then_sigkill(args + ["--steps", "100000"], out, min_step=6,
                                             timeout=480)
    step, iterations, path = _ckpt_values(out / "checkpoints")
    assert step == iterations and step % 6 == 0

    target = step + 12
    done = subprocess.run(args + ["--steps", str(target)], cwd=REPO, env=TRAIN_ENV,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"Resumed from {path} at step {step}" in done.stdout, done.stdout[-3000:]
    final_step, final_iterations, _ = _ckpt_values(out / "checkpoints")
    assert final_step == final_iterations == target

    # Both losses move (progress-bar metrics of both runs).
    logs = first_out + done.stdout
    for name in ("d_loss", "g_total", "g_adv", "g_feature"):
        values = _values(logs, name)
        assert len(values) >= 4 and all(math.isfinite(v) for v in values), name
        assert max(values) - min(values) > 1e-3, f"{name} does not move: {values}"
    # Validation ran at step 0 and every save, feature matching included.
    records = [json.loads(line) for line in (out / "validation.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records]
    assert steps[0] == 0 and target in steps, steps
    for record in records:
        for key in ("g_feature", "g_sobel", "g_lp_l1", "g_hp_l1", "l1", "psnr"):
            assert math.isfinite(record[key]), (key, record)
    print("validation", [(r["step"], round(r["l1"], 4), round(r["g_total"], 3)) for r in records])
    assert records[-1]["g_total"] < records[0]["g_total"]
