"""recurrent_refine (Baik) forward and GAN train-step time on the CPU, beside the official code.

TensorFlow side: the registered ``recurrent_refine`` generator (official cnum 48) in a
``tf.function``; one training step = ``InpaintingTrainer.train_step`` in a ``tf.function``
with the ``recurrent_refine`` recipe (Sobel-edge discriminator update, then the generator with
every term: L1, VGG19 perceptual/style with random weights, feature matching, Sobel,
frequency-separation terms, hinge adversarial) and Adam updates of both networks.

Official side (``--official DIR``, a checkout of jwbaik96/Image-inpainting; torch needed): the
same two measurements with the official modules, the train step reproducing the body of the
official ``train.py`` loop (D step, then G step with the same nine terms, ``zero_buffer``).
``torchvision`` is replaced by a stand-in ``models.vgg19`` (torchvision's exact
``features`` layer list, random weights) when it cannot be imported; nothing of the official
code is copied here.

Each implementation runs in its own worker process (TensorFlow and PyTorch in one process slow
each other down), and the two are timed **interleaved**: after one warm-up call each, every
repetition calls the TF and then the official worker, so load from other jobs on the machine
lands on both alike.

Usage::

    python benchmarks/recurrent_speed.py --official /path/to/Image-inpainting
    python benchmarks/recurrent_speed.py --size 256 --batch 1 --reps 3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


_TAG = "RECURRENT_SPEED "
LABELS = {"tf": "tfinpaint (TF, tf.function)", "official": "official (PyTorch)"}


class _Worker:
    """One implementation in its own process (``--worker KIND``), timing one call per request.

    TensorFlow and PyTorch in one process slow each other down (their thread pools and oneDNN
    runtimes compete: the official forward took 9.5 s there against 1.7 s alone), so each
    implementation lives in a child process, and the parent alternates the calls between them.
    """

    def __init__(self, kind, args):
        import subprocess

        cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--size",
               str(args.size), "--batch", str(args.batch), "--threads", str(args.threads)]
        if args.official:
            cmd += ["--official", args.official]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.request(None)  # wait until built

    def request(self, phase):
        if phase is not None:
            self.proc.stdin.write(phase + "\n")
            self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(_TAG):
                return json.loads(line[len(_TAG):])
        raise RuntimeError(f"benchmark worker exited with code {self.proc.wait()}")

    def close(self):
        self.proc.stdin.close()
        return self.proc.wait()


def _worker_main(args):
    if args.worker == "tf":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        calls = tf_calls(args.size, args.batch)
    else:
        import torch

        torch.set_num_threads(args.threads)
        calls = official_calls(args.official, args.size, args.batch)
    print(_TAG + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        t = time.perf_counter()
        calls[line.strip()]()
        print(_TAG + json.dumps({"seconds": time.perf_counter() - t,
                                 "peak_rss_gib": _peak_rss_gib()}), flush=True)


def _interleaved(workers, phase, reps):
    """Seconds of ``reps`` calls of ``phase`` per worker, the workers alternating call by call
    after one warm-up call each (tracing, first allocations), so a change in the machine's load
    during the run affects every implementation alike."""
    for worker in workers.values():
        worker.request(phase)
    times = {kind: [] for kind in workers}
    for _ in range(reps):
        for kind, worker in workers.items():
            times[kind].append(worker.request(phase)["seconds"])
    return times


def _loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def _peak_rss_gib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 ** 2  # Linux: KiB


def tf_calls(size, batch):
    """``{"forward": fn, "train_step": fn}`` of the TensorFlow implementation."""
    import numpy as np
    import tensorflow as tf

    from tfinpaint.models import registry
    from tfinpaint.training.recipes import get_recipe
    from tfinpaint.training.trainer import InpaintingTrainer

    rng = np.random.default_rng(0)
    image = rng.uniform(size=(batch, size, size, 3)).astype("float32")
    mask = np.ones((batch, size, size, 1), "float32")
    mask[:, size // 4: size // 2, size // 4: 3 * size // 4] = 0
    gen = registry.build("recurrent_refine")
    fwd = tf.function(lambda x, m: gen((x, m), training=False))
    out = {"forward": lambda: fwd(image, mask)["output"].numpy()}
    recipe = get_recipe("recurrent_refine")
    disc = registry.build_discriminator("recurrent_refine")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = InpaintingTrainer(gen, disc, recipe, vgg_weights=None)
    trainer.compile(recipe.g_optimizer.build(recipe.lr_schedule),
                    recipe.d_optimizer.build(recipe.lr_schedule))
    step = tf.function(trainer.train_step)
    out["train_step"] = lambda: step((image, mask))["g_total"].numpy()
    return out


def _standin_torchvision():
    import torch.nn as nn

    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
           512, 512, 512, 512, "M"]

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            layers, c = [], 3
            for v in cfg:
                if v == "M":
                    layers.append(nn.MaxPool2d(2, 2))
                else:
                    layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                    c = v
            self.features = nn.Sequential(*layers)

    tv = types.ModuleType("torchvision")
    tv.models = types.ModuleType("torchvision.models")
    tv.models.vgg19 = lambda pretrained=False, **kw: VGG()
    sys.modules["torchvision"], sys.modules["torchvision.models"] = tv, tv.models


def official_calls(path, size, batch):
    """``{"forward": fn, "train_step": fn}`` of the official modules (torch)."""
    import torch

    try:
        import torchvision  # noqa: F401
    except Exception:  # CUDA-only wheels fail against the CPU torch here
        _standin_torchvision()
    sys.path.insert(0, path)
    import losses as L  # noqa: N812
    import model as M  # noqa: N812
    import utils as U  # noqa: N812

    dev = torch.device("cpu")
    torch.manual_seed(0)
    x = torch.rand(batch, 3, size, size)
    mask = torch.zeros(batch, 1, size, size)
    mask[:, :, size // 4: size // 2, size // 4: 3 * size // 4] = 1  # official: 1 = hole
    gen = M.WrappingModule(cnum=48, device=dev)
    dis = M.Discriminator(device=dev)
    out = {}

    def forward():
        gen.eval()
        with torch.no_grad():
            gen(x, mask)
        gen.zero_buffer()

    out["forward"] = forward
    g_opt = torch.optim.Adam(gen.parameters(), lr=1e-4, betas=(0.5, 0.9))
    d_opt = torch.optim.Adam(dis.parameters(), lr=4e-4, betas=(0.5, 0.9))
    dis_loss, gen_loss = L.SNPatchDisLoss(1.0), L.SNPatchGenLoss(0.01)
    l1, vgg = L.L1Loss(5.0), L.VGGLoss(1.0, 250, device=dev)
    feat, sobel = L.FeatureLoss(1.0), L.SobelEdgeLoss(10, device=dev)
    hp_l1, lp_l1 = L.L1LossWithMask(1.0), L.L1Loss(1.0)
    lp_perc = L.PerceptualLoss(1.0, device=dev)
    hpf, lpf = U.HighPassFilter(dev), U.LowPassFilter(dev)

    def train_step():  # the body of the official train.py loop
        gen.train()
        dis.train()
        d_opt.zero_grad()
        coarse, refine = gen(x, mask)
        complete = refine * mask + x * (1 - mask)
        real, fake = torch.cat([x, mask], 1), torch.cat([complete, mask], 1)
        pred, _ = dis(torch.cat([real, fake.detach()], 0))
        dx, dgz = torch.chunk(pred, 2, dim=0)
        d = dis_loss(dx, dgz)
        d.backward(retain_graph=True)
        d_opt.step()
        g_opt.zero_grad()
        dgz, fake_f = dis(fake)
        _, real_f = dis(real)
        p, s = vgg(x, refine)
        total = (gen_loss(dgz) + l1(x, refine) + p + s + feat(real_f, fake_f) + sobel(x, refine)
                 + hp_l1(hpf(x), hpf(refine), mask) + lp_l1(lpf(x), lpf(coarse))
                 + lp_perc(lpf(x), lpf(coarse)))
        total.backward()
        g_opt.step()
        gen.zero_buffer()

    out["train_step"] = train_step
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--official", default=None, help="checkout of jwbaik96/Image-inpainting")
    p.add_argument("--worker", choices=tuple(LABELS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return _worker_main(args)
    kinds = ("tf", "official") if args.official else ("tf",)
    workers = {kind: _Worker(kind, args) for kind in kinds}
    print(f"recurrent_refine {args.size}x{args.size}, batch {args.batch}, {args.threads} "
          f"threads, one process per implementation, median of {args.reps} after one warm-up "
          f"call, implementations alternating call by call; load average before: {_loadavg()}",
          flush=True)
    results = {}
    for phase in ("forward", "train_step"):
        times = _interleaved(workers, phase, args.reps)
        for kind, values in times.items():
            results.setdefault(kind, {})[phase] = statistics.median(values)
            results[kind][phase + "_min"] = min(values)
            print(f"  {phase} {LABELS[kind]}: " + ", ".join(f"{t:.2f}" for t in values) + " s",
                  flush=True)
    peaks = {kind: worker.request("forward")["peak_rss_gib"] for kind, worker in workers.items()}
    for worker in workers.values():
        worker.close()
    print("| implementation | forward (s), median / min | GAN train step (s), median / min "
          "| peak RSS (GiB) |\n|---|---:|---:|---:|")
    for kind, r in results.items():
        print(f"| {LABELS[kind]} | {r['forward']:.2f} / {r['forward_min']:.2f} | "
              f"{r['train_step']:.2f} / {r['train_step_min']:.2f} | {peaks[kind]:.2f} |")
    print(f"load average after: {_loadavg()}")


if __name__ == "__main__":
    main()
