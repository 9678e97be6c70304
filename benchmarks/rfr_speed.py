"""RFR-Net speed and memory on the CPU (or whatever TensorFlow sees).

Speed mode (default), for each batch size in one process: forward latency eager,
``tf.function`` and XLA (``jit_compile=True``), one training step (generator forward + the
``rfr_net`` recipe loss with a random-weight VGG16 + Adam update, through
``InpaintingTrainer.train_step`` in a ``tf.function``; the same terms and weights as the
official ``RFRNetModel.get_g_loss``), the same step compiled with XLA (``train_xla``:
``tf.function(train_step, jit_compile=True)``, what ``trainer.compile(jit_compile=True)``
gives ``fit``), the peak resident memory of each phase, and the share of
the knowledge-consistent attention (the ``AttentionModule`` timed alone at its input size,
``iter_num`` calls with the state passed, as inside one forward pass). In speed mode, peak
memory is the process's ``VmHWM`` (``/proc/self/status``), reset before each phase by writing
``5`` to ``/proc/self/clear_refs`` (Linux); where that is not allowed the numbers are cumulative
peaks and marked with ``*``.

Memory mode (``--memory``): every (batch, phase) runs in a **fresh subprocess**, so one
configuration's allocations (and TensorFlow's allocator caches) cannot raise another's peak.
The child imports TensorFlow, builds the model (and, for ``train``, the VGG16 loss network,
the trainer and the optimizer's slots), records its resident memory (``baseline``), runs the
phase once (a ``tf.function`` / XLA call includes its tracing and compilation), and reports
the peak RSS (``VmHWM``) and the growth ``peak - baseline``. The growth is what the batch and
the image size cost; the baseline is mostly the TensorFlow runtime itself.

Usage::

    python benchmarks/rfr_speed.py                      # 256x256, batches 1 and 6
    python benchmarks/rfr_speed.py --size 128 --batches 1 --reps 3
    python benchmarks/rfr_speed.py --threads 2 --phases eager tf_function train
    python benchmarks/rfr_speed.py --memory --size 512 --batches 1 2 --phases eager train

Results measured on the project's reference CPU, next to the official PyTorch code, are in
``benchmarks/results/rfr_speed.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

PHASES = ("eager", "tf_function", "xla", "train", "train_xla")
_PEAK_RESET_OK = None
_CHILD_TAG = "RFR_SPEED_CHILD "


# === Process memory ===
def _reset_peak() -> bool:
    global _PEAK_RESET_OK
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _PEAK_RESET_OK = True
    except OSError:
        _PEAK_RESET_OK = False
    return _PEAK_RESET_OK


def _status_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _peak_rss_mib() -> float:
    peak = _status_mib("VmHWM")
    if peak is not None:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _rss_mib() -> float:
    rss = _status_mib("VmRSS")
    return rss if rss is not None else float("nan")


# === Machine description ===
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def _set_threads(threads: int) -> None:
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def _thread_desc() -> str:
    intra = tf.config.threading.get_intra_op_parallelism_threads() or "auto"
    inter = tf.config.threading.get_inter_op_parallelism_threads() or "auto"
    return f"intra-op {intra}, inter-op {inter}"


# === Timing helpers ===
def _time(fn, reps: int, warmup: int = 1) -> tuple[float, float]:
    """(first call seconds, median of ``reps`` later calls); ``reps=0``: the first call only
    (it then includes tracing / compilation)."""
    t0 = time.perf_counter()
    out = fn()
    _block(out)
    first = time.perf_counter() - t0
    for _ in range(max(warmup - 1, 0)):
        _block(fn())
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        _block(fn())
        times.append(time.perf_counter() - t0)
    return first, float(np.median(times)) if times else first


def _block(out):
    for t in tf.nest.flatten(out):
        if hasattr(t, "numpy"):
            t.numpy()


def _inputs(batch, size, seed=0):
    """Random image in [0, 1] and a mask (1 = known) with one (size/2)^2 hole per sample."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(size=(batch, size, size, 3)).astype("float32")
    mask = np.ones((batch, size, size, 1), "float32")
    for i in range(batch):  # a ~25 % hole per sample
        y, x = rng.integers(0, size // 2, 2)
        mask[i, y : y + size // 2, x : x + size // 2] = 0.0
    return tf.constant(image), tf.constant(mask)


# === Builders ===
def _model(iter_num):
    from tfinpaint.models import build

    model = build("rfr_net", iter_num=iter_num)
    if not model.built:  # registry.build returns built models; older versions did not
        model.build(((None, None, None, 3), (None, None, None, 1)))
    return model


def _forward_fn(phase, model, image, mask):
    if phase == "eager":
        return lambda: model((image, mask), training=False)["output"]
    jit = phase == "xla"
    fn = tf.function(lambda x, m: model((x, m), training=False)["output"], jit_compile=jit)
    return lambda: fn(image, mask)


def _train_fn(model, image, mask, jit_compile=False):
    """``InpaintingTrainer.train_step`` (rfr_net recipe, random VGG16) in a ``tf.function``
    (``jit_compile=True``: compiled with XLA, as ``compile(jit_compile=True)`` makes ``fit``)."""
    from tfinpaint.losses import FeatureExtractor
    from tfinpaint.training.recipes import get_recipe
    from tfinpaint.training.trainer import InpaintingTrainer

    recipe = get_recipe("rfr_net")
    vgg = FeatureExtractor(recipe.feature_network, recipe.feature_layers, weights=None,
                           normalization=recipe.feature_normalization)
    trainer = InpaintingTrainer(model, recipe=recipe, feature_extractor=vgg)
    optimizer = recipe.g_optimizer.build()
    trainer.compile(g_optimizer=optimizer)
    optimizer.build(model.trainable_variables)  # slots exist before the baseline is taken
    step = tf.function(trainer.train_step, jit_compile=jit_compile)
    return lambda: step((image, mask))


def _attention_fn(batch, size, mask, iter_num):
    """KCA alone at its input size: H/8 x W/8 x 512, ``iter_num`` calls with the state."""
    from tfinpaint.layers.attention import AttentionModule

    att = AttentionModule(mask_stride=4)
    feat = tf.random.normal((batch, size // 8, size // 8, 512))
    small_mask = tf.constant(mask.numpy()[:, ::2, ::2])  # the H/2 mask it receives

    @tf.function
    def attention_only(f, m):
        out, scores, mm = att([f, m])
        outs = [out]
        for _ in range(iter_num - 1):
            out, scores, mm = att([f, m, scores, mm])
            outs.append(out)
        return tf.add_n(outs)

    return lambda: attention_only(feat, small_mask)


# === Speed mode ===
def bench(batch: int, size: int, reps: int, iter_num: int, train_reps: int,
          phases=PHASES) -> dict:
    import keras

    keras.utils.set_random_seed(0)
    image, mask = _inputs(batch, size)
    row = {"batch": batch}
    model = _model(iter_num)

    for phase in ("eager", "tf_function", "xla"):
        if phase not in phases:
            continue
        _reset_peak()
        try:
            row[f"{phase}_first"], row[phase] = _time(_forward_fn(phase, model, image, mask),
                                                      reps)
        except Exception as e:  # XLA may be unavailable for some op on some builds
            row[f"{phase}_first"] = row[phase] = float("nan")
            row[f"{phase}_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
        row[f"mem_{phase}"] = _peak_rss_mib()

    _, row["attention"] = _time(_attention_fn(batch, size, mask, iter_num), reps)
    ref = next((row[p] for p in ("tf_function", "eager", "xla") if p in row), float("nan"))
    row["attention_share"] = row["attention"] / ref

    for phase in ("train", "train_xla"):
        if phase not in phases:
            continue
        _reset_peak()
        try:
            fn = _train_fn(model, image, mask, jit_compile=phase == "train_xla")
            row[f"{phase}_first"], row[phase] = _time(fn, train_reps)
        except Exception as e:
            row[f"{phase}_first"] = row[phase] = float("nan")
            row[f"{phase}_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
        row[f"mem_{phase}"] = _peak_rss_mib()
    return row


def _fmt(row, key, digits=2):
    if key not in row:
        return "-"
    return f"{row[key]:.{digits}f} ({row[key + '_first']:.{digits}f})"


def _print_speed(rows):
    mark = "" if _PEAK_RESET_OK else "*"
    print()
    print("Latency in seconds (median of timed calls; first call incl. tracing/compilation in "
          "parentheses); peak RSS in MiB" + (" (* cumulative)" if mark else ""))
    header = ("| batch | eager | tf.function | XLA | train step | train step XLA | KCA alone "
              "(share of the forward) | peak RSS eager / tf.function / XLA / train / train XLA |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        mem = " / ".join(
            f"{r['mem_' + p]:.0f}{mark}" if "mem_" + p in r else "-" for p in PHASES
        )
        print(
            f"| {r['batch']} | {_fmt(r, 'eager')} | {_fmt(r, 'tf_function')} | {_fmt(r, 'xla')} "
            f"| {_fmt(r, 'train')} | {_fmt(r, 'train_xla')} "
            f"| {r['attention']:.3f} ({100 * r['attention_share']:.1f} %) "
            f"| {mem} |"
        )
        for p in PHASES:
            if f"{p}_error" in r:
                print(f"  {p} failed at batch {r['batch']}: {r[p + '_error']}")
    print("JSON " + json.dumps(rows))


# === Memory mode ===
def _memory_child(phase: str, batch: int, size: int, iter_num: int) -> dict:
    """Runs in a fresh process: baseline RSS after building, then one call of ``phase``."""
    import keras

    keras.utils.set_random_seed(0)
    image, mask = _inputs(batch, size)
    model = _model(iter_num)
    fn = (_train_fn(model, image, mask, jit_compile=phase == "train_xla")
          if phase.startswith("train") else _forward_fn(phase, model, image, mask))
    baseline = _rss_mib()
    t0 = time.perf_counter()
    error = None
    try:
        _block(fn())
    except Exception as e:
        error = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    seconds = time.perf_counter() - t0
    peak = _peak_rss_mib()
    return {"phase": phase, "batch": batch, "size": size, "baseline_mib": baseline,
            "peak_mib": peak, "growth_mib": peak - baseline, "seconds": seconds,
            "error": error}


def _run_memory(args) -> list[dict]:
    rows = []
    for batch in args.batches:
        for phase in args.phases:
            cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", phase,
                   "--size", str(args.size), "--batches", str(batch),
                   "--iter-num", str(args.iter_num), "--threads", str(args.threads)]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_CHILD_TAG)]
            if proc.returncode or not lines:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
                row = {"phase": phase, "batch": batch, "size": args.size,
                       "error": f"exit {proc.returncode}: {tail[0][:160]}"}
            else:
                row = json.loads(lines[-1][len(_CHILD_TAG):])
            rows.append(row)
            print(f"  {phase} batch {batch}: {time.perf_counter() - t0:.0f} s", flush=True)
    print()
    print(f"Peak RSS in MiB, {args.size}x{args.size}, one call per fresh process (baseline = "
          "after imports and building the model/trainer; growth = peak - baseline)")
    print("| phase | batch | baseline | peak | growth | call seconds |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if r.get("error") and "peak_mib" not in r:
            print(f"| {r['phase']} | {r['batch']} | failed: {r['error']} | | | |")
            continue
        print(f"| {r['phase']} | {r['batch']} | {r['baseline_mib']:.0f} | {r['peak_mib']:.0f} "
              f"| {r['growth_mib']:.0f} | {r['seconds']:.1f} |"
              + (f" ({r['error']})" if r.get("error") else ""))
    print("JSON " + json.dumps(rows))
    return rows


# === CLI ===
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--reps", type=int, default=2,
                        help="timed forward calls per mode after one warm-up call "
                             "(0: report the first call only)")
    parser.add_argument("--train-reps", type=int, default=1,
                        help="timed training steps after one warm-up step (0: report the first "
                             "step, incl. tracing)")
    parser.add_argument("--iter-num", type=int, default=6)
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES),
                        help="which measurements to run (default: all)")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra- and inter-op threads (0: TensorFlow's default)")
    parser.add_argument("--memory", action="store_true",
                        help="peak-memory mode: one fresh subprocess per (batch, phase)")
    parser.add_argument("--memory-child", choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.size % 16 or args.size <= 0:
        parser.error(f"--size must be a positive multiple of 16. Received: {args.size}")
    if any(b < 1 for b in args.batches):
        parser.error(f"--batches must be >= 1. Received: {args.batches}")
    _set_threads(args.threads)

    if args.memory_child:
        row = _memory_child(args.memory_child, args.batches[0], args.size, args.iter_num)
        print(_CHILD_TAG + json.dumps(row), flush=True)
        return 0

    devices = [d.device_type for d in tf.config.list_logical_devices()]
    print(f"RFR-Net {args.size}x{args.size}, iter_num={args.iter_num}, TF {tf.__version__}, "
          f"devices {devices}, {_thread_desc()}, CPU '{_cpu_model()}' x{os.cpu_count()}, "
          f"load {_loadavg()}, {datetime.datetime.now().isoformat(timespec='minutes')}",
          flush=True)
    if args.memory:
        _run_memory(args)
        return 0
    rows = []
    for batch in args.batches:
        t0 = time.perf_counter()
        rows.append(bench(batch, args.size, args.reps, args.iter_num, args.train_reps,
                          tuple(args.phases)))
        print(f"  batch {batch} done in {time.perf_counter() - t0:.0f} s (load {_loadavg()})",
              flush=True)
    _print_speed(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
