"""Distributed training gives the same weights as one device for the same global batch.

Both tests run in fresh processes (this file executed as a script): logical CPU devices must be
configured before TensorFlow initializes its devices, and MultiWorkerMirroredStrategy must be
created before any other op. SGD is used on purpose: Adam divides by the gradient's RMS, so a
wrong global-batch scaling (e.g. summing instead of averaging over replicas) would be almost
invisible with it; with SGD it doubles the update. The models have no BatchNorm (under
MirroredStrategy Keras BN uses per-replica batch statistics, so it would legitimately differ).
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
GLOBAL_BATCH = 4
STEPS = 3
SIZE = 16
LR = 0.5


def _data():
    rng = np.random.default_rng(42)
    images = rng.uniform(0, 1, (STEPS * GLOBAL_BATCH, SIZE, SIZE, 3)).astype("float32")
    masks = np.ones((STEPS * GLOBAL_BATCH, SIZE, SIZE, 1), "float32")
    for i in range(len(masks)):
        top, left = rng.integers(0, SIZE // 2, 2)
        masks[i, top: top + SIZE // 2, left: left + SIZE // 3] = 0
    return images, masks


def _build(gan: bool):
    import keras

    from tests.training.trainer_test import (
        GAN_RECIPE,
        TINY_RECIPE,
        tiny_discriminator,
        tiny_generator,
    )
    from tfinpaint.training.trainer import InpaintingTrainer

    keras.utils.set_random_seed(0)
    g = tiny_generator(seed=0)
    d = tiny_discriminator(seed=1) if gan else None
    trainer = InpaintingTrainer(g, d, GAN_RECIPE if gan else TINY_RECIPE)
    trainer.compile(keras.optimizers.SGD(LR), keras.optimizers.SGD(LR) if gan else None)
    return trainer


def _weights(trainer):
    ws = [np.array(w) for w in trainer.generator.get_weights()]
    if trainer.discriminator is not None:
        ws += [np.array(w) for w in trainer.discriminator.get_weights()]
    return ws


def _single_device(gan: bool):
    import tensorflow as tf

    images, masks = _data()
    trainer = _build(gan)
    init = _weights(trainer)
    ds = tf.data.Dataset.from_tensor_slices((images, masks)).batch(GLOBAL_BATCH)
    for batch in ds:
        for m in trainer.metrics:  # the multi-worker loop logs (and resets) every step
            m.reset_state()
        logs = trainer.train_step(batch)
    return init, _weights(trainer), {k: float(v) for k, v in logs.items()}


def main_mirrored(out):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    result = {}
    # One strategy for both cases: a second MirroredStrategy in the same process restarts the
    # collective instance keys and its all-reduces collide with the first one's.
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for gan in (False, True):
        init, ref, _ = _single_device(gan)
        with strategy.scope():
            trainer = _build(gan)
        for a, b in zip(init, _weights(trainer)):
            np.testing.assert_array_equal(a, b)
        images, masks = _data()
        ds = tf.data.Dataset.from_tensor_slices((images, masks)).batch(GLOBAL_BATCH)
        trainer.fit(ds, epochs=1, steps_per_epoch=STEPS, verbose=0, shuffle=False)
        got = _weights(trainer)
        result["gan" if gan else "g_only"] = {
            "replicas": strategy.num_replicas_in_sync,
            "max_diff": max(float(np.abs(a - b).max()) for a, b in zip(got, ref)),
            "max_update": max(float(np.abs(a - b).max()) for a, b in zip(ref, init)),
            "step": int(trainer.step.numpy()),
        }
    pathlib.Path(out).write_text(json.dumps(result))


def main_worker(index, ports, out_dir):
    ports = [int(p) for p in ports.split(",")]
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": int(index)},
    })
    from tfinpaint.training.distribute import get_strategy, multiworker_train

    strategy = get_strategy("multiworker")
    import tensorflow as tf

    images, masks = _data()
    per_worker = GLOBAL_BATCH // len(ports)

    def dataset_fn(ctx):
        # Worker i takes rows [i*b, (i+1)*b) of every global batch, so the union of one step's
        # per-worker batches is exactly the single-device global batch.
        assert ctx.num_input_pipelines == len(ports)
        b = ctx.get_per_replica_batch_size(GLOBAL_BATCH)
        assert b == per_worker
        idx = np.concatenate([np.arange(s * GLOBAL_BATCH, (s + 1) * GLOBAL_BATCH)
                              [ctx.input_pipeline_id * b: (ctx.input_pipeline_id + 1) * b]
                              for s in range(STEPS)])
        return tf.data.Dataset.from_tensor_slices((images[idx], masks[idx])).batch(b)

    trainer, logs = multiworker_train(lambda: _build(gan=True), dataset_fn, STEPS,
                                      out_dir=out_dir, save_every=2, strategy=strategy,
                                      log_every=1, verbose=False)
    np.savez(os.path.join(out_dir, f"weights_{index}.npz"), *_weights(trainer))
    with open(os.path.join(out_dir, f"logs_{index}.json"), "w") as f:
        json.dump({**logs, "step": int(trainer.step.numpy())}, f)


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO),
               CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    return env


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_mirrored_two_devices_matches_one_device(tmp_path):
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, __file__, "mirrored", str(out)], cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    for case in ("g_only", "gan"):
        r = result[case]
        assert r["replicas"] == 2 and r["step"] == STEPS
        assert r["max_update"] > 1e-2, r  # the weights moved far more than the tolerance
        assert r["max_diff"] < 1e-5, r  # sum-instead-of-mean would be off by ~max_update


def test_multiworker_two_processes_matches_one_device(tmp_path):
    ports = ",".join(str(p) for p in _free_ports(2))
    procs = [
        subprocess.Popen([sys.executable, __file__, "worker", str(i), ports, str(tmp_path)],
                         cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for i in range(2)
    ]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=300))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]

    import tensorflow as tf

    init, ref, ref_logs = _single_device(gan=True)
    for i in range(2):
        got = list(np.load(tmp_path / f"weights_{i}.npz").values())
        diff = max(float(np.abs(a - b).max()) for a, b in zip(got, ref))
        assert diff < 1e-5, (i, diff)
    assert max(float(np.abs(a - b).max()) for a, b in zip(ref, init)) > 1e-2
    logs = json.loads((tmp_path / "logs_0.json").read_text())
    assert logs["step"] == STEPS
    np.testing.assert_allclose(logs["d_loss"], ref_logs["d_loss"], rtol=1e-5)
    # Chief-only checkpoints: saves at steps 2 and 3 in out_dir/checkpoints, no worker leftovers.
    ckpt = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    assert ckpt is not None and ckpt.endswith("ckpt-3"), ckpt
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".workertemp")]
    reader = tf.train.load_checkpoint(ckpt)
    assert int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == STEPS


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    if sys.argv[1] == "mirrored":
        main_mirrored(sys.argv[2])
    elif sys.argv[1] == "worker":
        main_worker(sys.argv[2], sys.argv[3], sys.argv[4])
