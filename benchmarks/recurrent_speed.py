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

Both implementations are built in one process and timed **interleaved**: after one warm-up
call each, every repetition calls the TF and the official function in turn, so load from other
jobs on the machine lands on both alike.

Usage::

    python benchmarks/recurrent_speed.py --official /path/to/Image-inpainting
    python benchmarks/recurrent_speed.py --size 256 --batch 1 --reps 3 --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _interleaved(pairs, reps):
    """Median seconds of each callable, the implementations alternating call by call.

    ``pairs``: ``{label: fn}``. Every ``fn`` is called once first (warm-up: tracing, first
    allocations); then ``reps`` rounds each call every ``fn`` once in turn, so a change in the
    machine's load during the run affects all of them alike.
    """
    for fn in pairs.values():
        fn()
    times = {label: [] for label in pairs}
    for _ in range(reps):
        for label, fn in pairs.items():
            t = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t)
    return {label: statistics.median(v) for label, v in times.items()}, times


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
    args = p.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    impls = {"tfinpaint (TF, tf.function)": tf_calls(args.size, args.batch)}
    if args.official:
        import torch

        torch.set_num_threads(args.threads)
        impls["official (PyTorch)"] = official_calls(args.official, args.size, args.batch)
    print(f"recurrent_refine {args.size}x{args.size}, batch {args.batch}, {args.threads} "
          f"threads, median of {args.reps} after one warm-up call, implementations "
          f"alternating call by call; load average before: {_loadavg()}", flush=True)
    results = {}
    for phase in ("forward", "train_step"):
        medians, times = _interleaved({label: calls[phase] for label, calls in impls.items()},
                                      args.reps)
        for label, median in medians.items():
            results.setdefault(label, {})[phase] = median
            print(f"  {phase} {label}: " + ", ".join(f"{t:.2f}" for t in times[label]) + " s",
                  flush=True)
    print("| implementation | forward (s) | GAN train step (s) |\n|---|---:|---:|")
    for label, r in results.items():
        print(f"| {label} | {r['forward']:.2f} | {r['train_step']:.2f} |")
    print(f"load average after: {_loadavg()}; peak resident memory {_peak_rss_gib():.2f} GiB")


if __name__ == "__main__":
    main()
