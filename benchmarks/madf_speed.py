"""MADF speed and memory on the CPU: tfinpaint beside the official PyTorch code, same run.

For each configuration (forward at 256x256 and 512x512, batch 1, eval mode; one training step at
256x256, batch 2) and each implementation, a **fresh subprocess** builds the network with random
weights, records its resident memory (``baseline``), runs one warm-up call (tracing /
first-call allocations included) and ``--reps`` timed calls, and reports the median latency and
the process's peak resident memory (``VmHWM``: ``peak``) and its growth over the baseline.
Both frameworks get the same thread count (``--threads``, default 2).

Implementations:

- ``tfinpaint``: :class:`tfinpaint.models.MADFNet` (official config: 7 levels, 2 refinement
  decoders) in a ``tf.function``; training = ``InpaintingTrainer.train_step`` with the ``madf``
  recipe (every official loss term, random-weight VGG16) and Adam, in a ``tf.function``.
- ``official NCHW`` / ``official channels_last``: ``net.py::MADFNet(args, layer_size=7)`` of
  ``MADF-inpainting/Pytorch-MADF`` (GPL-3.0; fetched separately, never part of this repository,
  ``--official-dir``), under ``torch.no_grad()`` for the forward; training = the official
  ``data_parallel.py::FullModel`` + ``loss.py::InpaintingLoss`` (incremental supervision, the
  ``train.py`` weights) + ``torch.optim.Adam(lr=2e-4)``, backward and step. torchvision is
  replaced by a stand-in providing ``models.vgg16().features`` (VGG16 "D", random weights),
  since only its shapes matter for timing.

The machine may be shared: the 1-minute load average is printed before and after each child;
compare implementations by their ratios within one run.

Usage::

    python benchmarks/madf_speed.py                               # everything, 3 reps
    python benchmarks/madf_speed.py --configs fwd256 --reps 5
    python benchmarks/madf_speed.py --official-dir /path/to/Pytorch-MADF --impls tfinpaint
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

CONFIGS = {"fwd256": ("forward", 256, 1), "fwd512": ("forward", 512, 1),
           "train256": ("train", 256, 2)}
IMPLS = ("tfinpaint", "official_nchw", "official_cl")
_TAG = "MADF_SPEED "
REPO = pathlib.Path(__file__).resolve().parents[1]

_VGG_STUB = '''
import torch.nn as nn


class _VGG(nn.Module):
    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                  512, 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)


class models:
    @staticmethod
    def vgg16(pretrained=False, **kwargs):
        return _VGG()
'''


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _loadavg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def _time(fn, reps):
    fn()  # warm-up: tracing, first allocations
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _inputs(np, batch, size):
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(batch, size, size, 3)).astype("float32")
    mask = np.ones((batch, size, size, 1), "float32")
    mask[:, size // 4: size // 2, size // 5: size // 2] = 0.0
    mask[:, size // 2:, size // 2 + 7: size // 2 + 30] = 0.0
    return image, mask


# === Children ===
def _child_tfinpaint(kind, size, batch, reps, threads):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from tfinpaint.models import build

    model = build("madf")
    image, mask = _inputs(np, batch, size)
    if kind == "forward":
        fn = tf.function(lambda x, m: model((x, m), training=False)["output"])
        baseline = _status_mib("VmRSS")
        times = _time(lambda: fn(image, mask).numpy(), reps)
    else:
        import warnings

        from tfinpaint.training.recipes import get_recipe
        from tfinpaint.training.trainer import InpaintingTrainer

        recipe = get_recipe("madf")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = InpaintingTrainer(model, None, recipe, vgg_weights=None)
        trainer.compile(recipe.g_optimizer.build())
        trainer.build_optimizers()
        step = tf.function(trainer.train_step)
        baseline = _status_mib("VmRSS")
        times = _time(lambda: float(step((image, mask))["g_total"]), reps)
    return baseline, times


def _child_official(kind, size, batch, reps, threads, official_dir, channels_last):
    import contextlib
    import io
    import types

    import numpy as np
    import torch

    torch.set_num_threads(threads)
    stub = tempfile.mkdtemp(prefix="madf_tv_stub_")
    pathlib.Path(stub, "torchvision.py").write_text(_VGG_STUB)
    sys.path[:0] = [str(official_dir), stub]
    import net  # official net.py (fetched, not part of this repository)

    args = types.SimpleNamespace(
        n_refinement_D=2, use_incremental_supervision=True, valid_weight=1.0, hole_weight=6.0,
        tv_weight=0.1, prc_weight=0.05, style_weight=120.0,
    )
    torch.manual_seed(0)
    model = net.MADFNet(args, layer_size=7)
    image, mask = _inputs(np, batch, size)
    mean = np.array([0.485, 0.456, 0.406], "float32")
    std = np.array([0.229, 0.224, 0.225], "float32")
    gt = torch.from_numpy(((image - mean) / std).transpose(0, 3, 1, 2).copy())
    m3 = torch.from_numpy(np.repeat(mask, 3, -1).transpose(0, 3, 1, 2).copy())
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    gt, m3 = gt.contiguous(memory_format=fmt), m3.contiguous(memory_format=fmt)
    x = (gt * m3).contiguous(memory_format=fmt)
    if kind == "forward":
        model = model.to(memory_format=fmt)
        model.eval()  # (the official train() override returns None, so no chaining)

        def fn():
            with torch.no_grad():
                return model(x, m3)[-1]

        baseline = _status_mib("VmRSS")
        times = _time(fn, reps)
    else:
        import data_parallel
        import loss as official_loss

        extractor = net.VGG16FeatureExtractor()
        full = data_parallel.FullModel(model, extractor, args).to(memory_format=fmt)
        full.train()
        criterion = official_loss.InpaintingLoss(extractor, args)
        optimizer = torch.optim.Adam(
            [p for p in model.parameters() if p.requires_grad], lr=2e-4)

        def fn():
            with contextlib.redirect_stdout(io.StringIO()):  # InpaintingLoss prints
                outputs, feats, comp_feats, feat_gt = full(x, m3, gt)
                losses = criterion(x, m3, outputs, gt, comp_feats, feats, feat_gt)
            total = sum(getattr(args, f"{k}_weight") * v for k, v in losses.items())
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            return float(total)

        baseline = _status_mib("VmRSS")
        times = _time(fn, reps)
    return baseline, times


def _run_child(spec):
    kind, size, batch = CONFIGS[spec["config"]]
    if spec["impl"] == "tfinpaint":
        baseline, times = _child_tfinpaint(kind, size, batch, spec["reps"], spec["threads"])
    else:
        baseline, times = _child_official(
            kind, size, batch, spec["reps"], spec["threads"], spec["official_dir"],
            channels_last=spec["impl"] == "official_cl")
    peak = _status_mib("VmHWM")
    print(_TAG + json.dumps({"times": times, "baseline_mib": baseline, "peak_mib": peak}))


# === Parent ===
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--impls", nargs="+", default=list(IMPLS), choices=list(IMPLS))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--official-dir", default="/work/fetched/madf",
                        help="checkout of MADF-inpainting/Pytorch-MADF (net.py, loss.py, ...)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _run_child(json.loads(args.child))
        return 0
    impls = list(args.impls)
    if any(i.startswith("official") for i in impls) and not pathlib.Path(
            args.official_dir, "net.py").is_file():
        print(f"no official code in {args.official_dir}: timing tfinpaint only")
        impls = [i for i in impls if i == "tfinpaint"]
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f
                    if line.startswith("model name")), "?")
    print(f"CPU: {cpu}, {os.cpu_count()} logical CPUs, {args.threads} threads per run, "
          f"{args.reps} timed reps after 1 warm-up, each row a fresh process")
    rows = []
    for config in args.configs:
        for impl in impls:
            spec = {"config": config, "impl": impl, "reps": args.reps, "threads": args.threads,
                    "official_dir": args.official_dir}
            load_before = _loadavg()
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                   "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
            proc = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                text=True, env=env)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(_TAG)), None)
            if proc.returncode != 0 or line is None:
                print(f"{config} {impl}: FAILED\n{proc.stderr[-2000:]}")
                continue
            res = json.loads(line[len(_TAG):])
            row = {"config": config, "impl": impl, "median_s": statistics.median(res["times"]),
                   "min_s": min(res["times"]), "peak_mib": res["peak_mib"],
                   "growth_mib": res["peak_mib"] - res["baseline_mib"],
                   "load": f"{load_before:.1f}->{_loadavg():.1f}"}
            rows.append(row)
            print(f"{config:9s} {impl:14s} median {row['median_s']:7.2f} s (min "
                  f"{row['min_s']:.2f})  peak RSS {row['peak_mib']:7.0f} MiB  growth "
                  f"{row['growth_mib']:7.0f} MiB  load {row['load']}", flush=True)
    print("\n| config | implementation | median s | min s | peak RSS MiB | growth MiB | load |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['config']} | {r['impl']} | {r['median_s']:.2f} | {r['min_s']:.2f} | "
              f"{r['peak_mib']:.0f} | {r['growth_mib']:.0f} | {r['load']} |")
    by = {(r["config"], r["impl"]): r for r in rows}
    for config in args.configs:
        ours = by.get((config, "tfinpaint"))
        for impl in ("official_nchw", "official_cl"):
            ref = by.get((config, impl))
            if ours and ref:
                ratio = ours["median_s"] / ref["median_s"]
                print(f"{config}: tfinpaint / {impl}: time x{ratio:.2f}, "
                      f"peak RSS x{ours['peak_mib'] / ref['peak_mib']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
