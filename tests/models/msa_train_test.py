"""MSA-Net trains as a GAN through ``tfinpaint train`` on real photos: both losses move,
validation L1 falls, and a SIGKILLed run resumes with both optimizers' state."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.training.run_test import REPO, TRAIN_ENV, run_until_saved_then_sigkill


def _ckpt(ckpt_dir):
    """``{"step", "g_iterations", "d_iterations", "path"}`` of the newest checkpoint."""
    path = tf.train.latest_checkpoint(str(ckpt_dir)) if ckpt_dir.exists() else None
    if path is None:
        return None
    reader = tf.train.load_checkpoint(path)
    names = reader.get_variable_to_shape_map()
    out = {"step": int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")), "path": path}
    for who in ("g", "d"):
        (name,) = [n for n in names if n.startswith(f"{who}_optimizer/") and "iteration" in n]
        out[f"{who}_iterations"] = int(reader.get_tensor(name))
    # Adam slots (m, v) of the discriminator's 5 SN kernels are in the checkpoint.
    slots = [n for n in names if n.startswith("d_optimizer/_variables/")]
    assert len(slots) >= 10, sorted(n for n in names if n.startswith("d_optimizer/"))
    return out


@pytest.mark.large  # two CLI processes with a GAN step each; ~2 min on 2 cores
def test_cli_gan_training_moves_both_losses_and_resumes_after_sigkill(photos_dir, tmp_path):
    from tfinpaint.training.callbacks import read_event_scalars

    out = tmp_path / "msa"
    args = [sys.executable, "-m", "tfinpaint", "train", "--model", "msa_net",
            "--config", "layer_size=4", "--images", str(photos_dir / "train"),
            "--val", str(photos_dir / "val"), "--val-batches", "2",
            "--size", "32", "--batch", "4", "--save-every", "10",
            "--vgg-weights", "none", "--seed", "3", "--out", str(out)]
    run_until_saved_then_sigkill(args + ["--steps", "100000"], out, min_step=20, timeout=400)
    saved = _ckpt(out / "checkpoints")
    step = saved["step"]
    assert step % 10 == 0 and saved["g_iterations"] == saved["d_iterations"] == step

    target = step + 20
    done = subprocess.run(args + ["--steps", str(target)], cwd=REPO, env=TRAIN_ENV,
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"Resumed from {saved['path']} at step {step}" in done.stdout, done.stdout[-3000:]
    final = _ckpt(out / "checkpoints")
    # Both optimizers continued from the checkpoint (fresh ones would count 20 iterations).
    assert final["step"] == final["g_iterations"] == final["d_iterations"] == target
    assert (out / "generator.weights.h5").is_file()

    history = [json.loads(line) for line in (out / "validation.jsonl").read_text().splitlines()]
    print("\n".join(json.dumps(h) for h in history))
    assert history[0]["step"] == 0 and history[-1]["step"] == target
    assert history[-1]["l1"] < 0.8 * history[0]["l1"], history
    assert history[-1]["hole_l1"] < 0.8 * history[0]["hole_l1"], history

    events = read_event_scalars(str(out / "tb"))
    for tag in ("g_total", "g_adv", "d_loss", "d_real", "d_fake"):
        values = np.array([v for s, v in events[tag] if s <= target])
        assert np.all(np.isfinite(values)) and np.ptp(values) > 1e-4, (tag, values)
        print(tag, np.round(values[:3], 4), "...", np.round(values[-3:], 4))
    g_total = [v for _, v in sorted(events["g_total"])]  # logged every 10 steps
    assert g_total[-1] < g_total[0], g_total
    # nsgan D loss, halved as MANet's updateD (recipe d_loss_weight 0.5): 0.5 * 2 ln 2 = 0.69
    # for an undecided D.
    d_loss = [v for _, v in sorted(events["d_loss"])]
    assert all(0.05 < v < 2.0 for v in d_loss), d_loss


@pytest.mark.large  # one conversion + one fine-tune step of the official-size GAN pipeline
def test_converted_run_dir_keeps_the_discriminator_for_finetuning(photos_dir, tmp_path):
    """``tfinpaint convert`` of a generator+discriminator state_dict writes both weight files;
    ``train --finetune-from`` loads both and applies the recipe's fine-tune stage (every BN
    frozen, G lr 5e-5, D lr 0.1x = 5e-6)."""
    from tfinpaint.cli import main
    from tfinpaint.convert.msa import export_state_dict
    from tfinpaint.layers.batch_norm import BatchNorm
    from tfinpaint.models.msa import MSANet, build_msa_discriminator
    from tfinpaint.training.run import train

    g, d = MSANet(layer_size=4), build_msa_discriminator()
    d(np.zeros((1, 32, 32, 3), "float32"))
    state = export_state_dict(g, d)
    assert "discriminator.features.0.weight_orig" in state  # the official alias, as torch has
    np.savez(tmp_path / "manet.npz", **state)
    conv = tmp_path / "converted"
    assert main(["convert", "--model", "msa_net", str(tmp_path / "manet.npz"), str(conv)]) == 0
    assert json.loads((conv / "config.json").read_text())["config"] == {"layer_size": 4}
    assert (conv / "discriminator.weights.h5").is_file()

    result = train("msa_net", photos_dir / "train", out_dir=tmp_path / "ft", size=32, batch=2,
                   steps=1, save_every=1, verbose=0, config={"layer_size": 4},
                   finetune_from=conv)
    trainer = result["trainer"]
    assert float(trainer.g_optimizer.learning_rate.numpy()) == pytest.approx(5e-5)
    assert float(trainer.d_optimizer.learning_rate.numpy()) == pytest.approx(5e-6)
    bns = [la for la in trainer.generator._flatten_layers() if isinstance(la, BatchNorm)]
    assert bns and all(la.frozen_stats for la in bns)
    # The discriminator started from the converted weights: one Adam step of lr 5e-6 away.
    for k in range(1, 6):
        got = trainer.discriminator.get_layer(f"conv_{k}").weight_orig.numpy()
        want = d.get_layer(f"conv_{k}").weight_orig.numpy()
        assert np.abs(got - want).max() < 1e-4, k
