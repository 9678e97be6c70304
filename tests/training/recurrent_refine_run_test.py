"""``tfinpaint train --model recurrent_refine``: a GAN run on the real photos, killed and resumed.

Both the generator and the discriminator losses move, validation runs with the feature-matching
term (the discriminator in inference mode inside ``test_step``), the learning-rate schedule is
recipe data, and a SIGKILLed run resumes from its last checkpoint with its counters.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.training.run_test import _ckpt_values

REPO = pathlib.Path(__file__).resolve().parents[2]


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
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=str(REPO))
    proc = subprocess.Popen(args + ["--steps", "100000"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 480
        saved = None
        while time.time() < deadline and proc.poll() is None:
            saved = (_ckpt_values(out / "checkpoints", while_writing=True)
                     if (out / "checkpoints").exists() else None)
            if saved and saved[0] >= 6:
                break
            time.sleep(0.5)
        assert saved, proc.communicate(timeout=10)[0][-3000:] if proc.poll() is not None else ""
        proc.send_signal(signal.SIGKILL)
        first_out = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    step, iterations, path = _ckpt_values(out / "checkpoints")
    assert step == iterations and step % 6 == 0

    target = step + 12
    done = subprocess.run(args + ["--steps", str(target)], cwd=REPO, env=env,
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
