"""``train()`` / ``tfinpaint train``: run directory, TensorBoard, SIGKILL + resume, fine-tune."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.trainer_test import TINY_MODEL, register_tiny, tiny_generator

REPO = pathlib.Path(__file__).resolve().parents[2]
# The environment of the CLI training subprocesses: quiet, CPU only, this checkout first.
TRAIN_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                 PYTHONPATH=str(REPO))


def _ckpt_values(ckpt_dir, while_writing: bool = False):
    """``(step, generator optimizer iterations, path)`` of the newest checkpoint.

    ``while_writing=True`` (polling a live run) answers ``None`` for a checkpoint whose files
    are still being written or rotated instead of raising.
    """
    path = tf.train.latest_checkpoint(str(ckpt_dir))
    if path is None:
        return None
    try:
        reader = tf.train.load_checkpoint(path)
        reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")
    except (tf.errors.OpError, ValueError):
        if while_writing:
            return None
        raise
    names = reader.get_variable_to_shape_map()
    iters = [n for n in names if n.startswith("g_optimizer/") and "iteration" in n]
    assert len(iters) == 1, sorted(names)
    return (int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")),
            int(reader.get_tensor(iters[0])), path)


def run_until_saved_then_sigkill(args, out, min_step: int, timeout: float) -> str:
    """Starts ``args`` (a ``tfinpaint train`` command line writing ``out``), waits until a
    checkpoint of step >= ``min_step`` is complete, SIGKILLs the process and returns its output.
    """
    proc = subprocess.Popen(args, cwd=REPO, env=TRAIN_ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + timeout
        saved = None
        while time.time() < deadline and proc.poll() is None:
            saved = (_ckpt_values(out / "checkpoints", while_writing=True)
                     if (out / "checkpoints").exists() else None)
            if saved and saved[0] >= min_step:
                break
            time.sleep(0.5)
        assert saved, proc.communicate(timeout=10)[0][-3000:] if proc.poll() is not None else ""
        proc.send_signal(signal.SIGKILL)
        output = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    return output


def test_train_writes_run_dir_and_tensorboard(photos_dir, tmp_path):
    from tfinpaint.training.callbacks import read_event_scalars
    from tfinpaint.training.run import train

    register_tiny()
    out = tmp_path / "run"
    result = train(TINY_MODEL, photos_dir / "train", photos_dir / "val", out_dir=out, size=32,
                   batch=2, steps=6, save_every=3, val_batches=1, scalar_every=1, verbose=0,
                   masks="lama_thick")
    assert result["step"] == 6
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == TINY_MODEL and config["recipe"] == "tiny_test_l1"
    assert config["config"] == {} and config["size"] == 32 and config["steps"] == 6
    step, iterations, _ = _ckpt_values(out / "checkpoints")
    assert step == iterations == 6
    # generator.weights.h5 is the final generator.
    g = tiny_generator()
    g.load_weights(out / "generator.weights.h5")
    for a, b in zip(g.get_weights(), result["trainer"].generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    events = read_event_scalars(str(out / "tb"))
    for tag in ("g_total", "g_hole", "g_valid", "psnr", "ssim", "hole_l1", "l1"):
        assert tag in events, sorted(events)
    assert [s for s, _ in events["g_hole"] if s <= 6][:6] == [1, 2, 3, 4, 5, 6]
    # Validation ran before training (step 0, the untrained reference) and after steps 3 and 6
    # (epochs of save_every steps) with finite values; validation.jsonl holds the same curve.
    assert sorted(s for s, _ in events["psnr"]) == [0, 3, 6]
    assert all(np.isfinite(v) and v > 5 for _, v in events["psnr"])
    history = [json.loads(line) for line in (out / "validation.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [0, 3, 6]
    for h in history:
        assert h["psnr"] == pytest.approx([v for s, v in events["psnr"] if s == h["step"]][0])
    images = [t for t in events if t.startswith("samples")]
    assert images and {s for s, _ in events[images[0]]} == {3, 6}
    np.testing.assert_allclose(result["history"]["val_hole_l1"][-1],
                               [v for s, v in events["hole_l1"] if s == 6][0], rtol=1e-6)


def test_finetune_from_loads_weights_freezes_bn_and_lowers_lr(photos_dir, tmp_path):
    from tfinpaint.training.run import train

    register_tiny()
    pre = tmp_path / "pre"
    common = dict(size=32, batch=2, save_every=2, verbose=0, config={"bn": True})
    train(TINY_MODEL, photos_dir / "train", out_dir=pre, steps=2, **common)
    g_pre = tiny_generator(bn=True)
    g_pre.load_weights(pre / "generator.weights.h5")

    ft = tmp_path / "ft"
    with pytest.raises(ValueError, match="different run"):
        train(TINY_MODEL, photos_dir / "train", out_dir=pre, steps=3, finetune_from=pre,
              **common)
    result = train(TINY_MODEL, photos_dir / "train", out_dir=ft, steps=3, finetune_from=pre,
                   **common)
    g_ft = result["trainer"].generator
    for name in ("enc_bn", "dec_bn"):  # recipe tiny_test_l1: freeze_batchnorm="all"
        a, b = g_pre.get_layer(name), g_ft.get_layer(name)
        assert b.frozen_stats
        np.testing.assert_array_equal(a.moving_mean.numpy(), b.moving_mean.numpy())
        np.testing.assert_array_equal(a.moving_variance.numpy(), b.moving_variance.numpy())
        assert np.abs(a.gamma.numpy() - b.gamma.numpy()).max() > 0
    assert float(result["trainer"].g_optimizer.learning_rate.numpy()) == pytest.approx(5e-4)
    config = json.loads((ft / "config.json").read_text())
    assert config["finetune"] == {"freeze_batchnorm": "all", "learning_rate": 5e-4,
                                  "d_learning_rate": None}


def test_cli_resumes_after_sigkill(photos_dir, tmp_path):
    """A real ``python -m tfinpaint train`` is SIGKILLed after a save, then restarted."""
    out = tmp_path / "run"
    args = [sys.executable, "-m", "tfinpaint", "train", "--model", "pconv_unet",
            "--config", "layer_size=4", "--images", str(photos_dir / "train"),
            "--size", "32", "--batch", "2", "--save-every", "2", "--vgg-weights", "none",
            "--masks", "lama_thick", "--out", str(out)]
    run_until_saved_then_sigkill(args + ["--steps", "100000"], out, min_step=2, timeout=240)
    step, iterations, path = _ckpt_values(out / "checkpoints")
    assert step == iterations and step % 2 == 0 and step >= 2
    weights_at_kill = (out / "generator.weights.h5").read_bytes()
    assert weights_at_kill

    target = step + 2
    done = subprocess.run(args + ["--steps", str(target)], cwd=REPO, env=TRAIN_ENV,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (f"Resumed from {path} at step {step} (generator optimizer iterations {step})"
            in done.stdout), done.stdout[-3000:]
    final_step, final_iterations, _ = _ckpt_values(out / "checkpoints")
    # The counters continued from the checkpoint (a fresh optimizer would end at 2 iterations).
    assert final_step == final_iterations == target
    assert f"trained pconv_unet to step {target}" in done.stdout


def test_cli_reports_bad_input(tmp_path, capsys):
    from tfinpaint.cli import main

    code = main(["train", "--model", "pconv_unet", "--images", str(tmp_path / "missing"),
                 "--steps", "1", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "missing: training images not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--model", "pconv_unet", "--images", ".", "--steps", "0", "--out", "o"])


def test_keras_policy_restored_after_mixed_precision_run(photos_dir, tmp_path):
    from tfinpaint.training.run import train

    register_tiny()
    result = train(TINY_MODEL, photos_dir / "train", out_dir=tmp_path / "mp", size=32, batch=2,
                   steps=2, save_every=2, verbose=0, mixed_precision="bfloat16")
    assert result["trainer"].generator.dtype_policy.name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"


def test_inpainting_dataset_batches_sharding_and_mask_folder(photos_dir, tmp_path):
    from PIL import Image

    from tfinpaint.data.inpainting_dataset import inpainting_dataset

    image, mask = next(iter(inpainting_dataset(photos_dir / "train", "lama_thick", size=32,
                                               batch_size=3, seed=1)))
    assert image.shape == (3, 32, 32, 3) and mask.shape == (3, 32, 32, 1)
    assert image.dtype == tf.float32 and 0 <= float(tf.reduce_min(image)) <= 1
    assert set(np.unique(mask.numpy())) == {0.0, 1.0}
    # Two input pipelines (multi-worker sharding): per-replica batch 2, different masks.
    ctxs = [tf.distribute.InputContext(2, i, 2) for i in range(2)]
    shards = [next(iter(inpainting_dataset(photos_dir / "train", "lama_thick", size=32,
                                           batch_size=4, seed=1, input_context=c)))
              for c in ctxs]
    assert all(s[0].shape[0] == 2 for s in shards)
    assert not np.array_equal(shards[0][1].numpy(), shards[1][1].numpy())
    # A mask folder, white = hole: becomes 0 (hole) in the library convention.
    folder = tmp_path / "masks"
    folder.mkdir()
    hole = np.zeros((32, 32), np.uint8)
    hole[8:16, 8:24] = 255
    Image.fromarray(hole).save(folder / "m.png")
    _, m = next(iter(inpainting_dataset(photos_dir / "val", folder, size=32, batch_size=2,
                                        seed=0, mask_augment=False, repeat=False)))
    np.testing.assert_array_equal(m.numpy()[0, ..., 0], (hole == 0).astype("float32"))
    with pytest.raises(FileNotFoundError):
        inpainting_dataset(photos_dir / "val", str(tmp_path / "nope" / "masks"), size=32)


def test_jit_compile_trains_like_the_plain_step(photos_dir, tmp_path):
    """``jit_compile=True`` (``tfinpaint train --jit-compile``) reaches ``fit`` and XLA's step
    gives the plain step's update (up to float reassociation) from the same weights and batch."""
    from tests.training.trainer_test import TINY_RECIPE
    from tfinpaint.training.run import train
    from tfinpaint.training.trainer import InpaintingTrainer

    register_tiny()
    result = train(TINY_MODEL, photos_dir / "val", out_dir=tmp_path / "jit", size=32, batch=2,
                   steps=2, save_every=2, verbose=0, jit_compile=True)
    assert result["step"] == 2 and result["trainer"].jit_compile is True

    rng = np.random.default_rng(0)
    image = rng.random((2, 16, 16, 3), dtype=np.float32)
    mask = np.ones((2, 16, 16, 1), np.float32)
    mask[:, 4:10, 5:12] = 0
    start = tiny_generator().get_weights()
    weights = {}
    for jit in (False, True):
        generator = tiny_generator()
        generator.set_weights(start)
        trainer = InpaintingTrainer(generator, None, TINY_RECIPE)
        trainer.compile(keras.optimizers.SGD(0.1), jit_compile=jit)
        trainer.fit(tf.data.Dataset.from_tensors((image, mask)).repeat(2), verbose=0)
        weights[jit] = generator.get_weights()
    assert max(float(np.abs(a - b).max()) for a, b in zip(weights[False], start)) > 1e-4
    for a, b in zip(weights[False], weights[True]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
