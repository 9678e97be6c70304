"""Checks the Region-wise port against the authors' own TensorFlow functions.

Usage::

    python benchmarks/regionwise_official_check.py /path/to/Region-wise-Inpainting \\
        [--tf-keras-site DIR] [--out results.json]

``/path/to/Region-wise-Inpainting`` is a checkout of ``vickyFox/Region-wise-Inpainting`` (MIT;
not part of this repository and never committed). Its TF1 code needs ``tf.layers`` (Keras 2):
install ``tf_keras`` matching TensorFlow somewhere outside the venv, e.g.
``pip install --no-deps --target /tmp/tfk "tf-keras~=2.21.0"``, and pass ``--tf-keras-site
/tmp/tfk`` (TensorFlow then serves ``tf.compat.v1.layers`` from it with
``TF_USE_LEGACY_KERAS=1``, set only in the child process).

How: a child process (which never imports tfinpaint, so the parent's eager state is untouched)
imports the authors' modules with ``tensorflow`` bound to ``tf.compat.v1`` in graph mode, draws
random inputs, initialises the authors' variables with their own initialisers, runs

- ``region_conv.region_conv`` and ``region_conv.region_deconv`` (mask at the image size, so the
  ``align_corners`` resize is exercised),
- ``vgg16.new_gram``, ``vgg16.loss_cor`` and ``vgg16.loss_style`` on random pool1..3 features,
- ``vgg16.Vgg16.build`` (224 px resize, BGR, mean) with a random ``vgg16.npy``,
- ``inpaint_model.RW_generator`` (both stages, official widths and rates),

and saves inputs, variables and outputs to an ``.npz``. The parent loads the same variables into
:class:`tfinpaint.layers.RegionConv2D`, :class:`tfinpaint.losses.FeatureExtractor` and
:class:`tfinpaint.models.regionwise.RegionwiseInpaintNet`, runs the port on the same inputs and
prints the max absolute (and relative) differences.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import types

import numpy as np

SEED = 20190433
N, H, W = 2, 72, 88  # H / 4 = 18 > 16, the largest dilation rate of the official trunk
VGG_CONVS = (("conv1_1", 3, 64), ("conv1_2", 64, 64), ("conv2_1", 64, 128),
             ("conv2_2", 128, 128), ("conv3_1", 128, 256), ("conv3_2", 256, 256),
             ("conv3_3", 256, 256), ("conv4_1", 256, 512), ("conv4_2", 512, 512),
             ("conv4_3", 512, 512), ("conv5_1", 512, 512), ("conv5_2", 512, 512),
             ("conv5_3", 512, 512))


# ----------------------------------------------------------------------------------------------
# Child: the authors' code, TF1 graph mode
# ----------------------------------------------------------------------------------------------
def _child(repo: str, out: str) -> None:
    import tensorflow as tf2

    tf = tf2.compat.v1
    tf.disable_v2_behavior()
    tf.set_random_seed(SEED)  # the authors' initialisers draw from the graph seed
    # The authors' modules do `import tensorflow as tf` (TF 1.x API) and import tf.contrib's
    # add_arg_scope (unused by the functions checked here).
    contrib = types.ModuleType("tensorflow.contrib.framework.python.ops")
    contrib.add_arg_scope = lambda f: f
    for name in ("tensorflow.contrib", "tensorflow.contrib.framework",
                 "tensorflow.contrib.framework.python"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["tensorflow.contrib.framework.python.ops"] = contrib
    sys.modules["tensorflow"] = tf
    sys.path.insert(0, repo)
    sys.path.insert(0, os.path.join(repo, "vgg"))
    import inpaint_model  # noqa: F401  (imports inpaint_ops, region_conv, vgg.vgg16)
    import region_conv
    import vgg16

    rng = np.random.default_rng(SEED)
    arrays = {}

    def const(name, shape, low=-1.0, high=1.0):
        arrays[name] = rng.uniform(low, high, shape).astype(np.float32)
        return tf.constant(arrays[name])

    mask_np = np.ones((N, H, W, 1), np.float32)
    mask_np[:, 14:50, 20:61] = 0.0
    mask_np[:, 60:, :9] = 0.0
    arrays["mask"] = mask_np
    mask = tf.constant(mask_np)
    fetch = {}

    # region_conv at H/2 and region_deconv at H/4 -> H/2, as in SINet.
    xc = const("rc/x_complete", (N, H // 2, W // 2, 24))
    xm = const("rc/x_missing", (N, H // 2, W // 2, 12))
    fetch["rc/out"] = region_conv.region_conv(xc, xm, mask, name="chk_rc")
    dc = const("rd/x_complete", (N, H // 4, W // 4, 20))
    dm = const("rd/x_missing", (N, H // 4, W // 4, 10))
    fetch["rd/out"] = region_conv.region_deconv(dc, dm, mask, name="chk_rd")

    # Losses on random VGG-like features (pool1..pool3 of a 64 x 80 image).
    feats_out = [const(f"loss/out{i}", (N, 32 >> i, 40 >> i, 16 << i), 0.0, 2.0)
                 for i in range(3)]
    feats_gt = [const(f"loss/gt{i}", (N, 32 >> i, 40 >> i, 16 << i), 0.0, 2.0)
                for i in range(3)]
    fetch["loss/new_gram"] = vgg16.new_gram(feats_out[1])
    fetch["loss/cor"] = vgg16.loss_cor(feats_out, feats_gt)
    fetch["loss/style"] = vgg16.loss_style(feats_out, feats_gt)

    # Vgg16.build with a random npy (the real one is ImageNet VGG16 from Caffe).
    data = {}
    for name, cin, cout in VGG_CONVS:
        w = (rng.standard_normal((3, 3, cin, cout)) * np.sqrt(2.0 / (9 * cin))).astype(np.float32)
        b = (rng.standard_normal(cout) * 0.1).astype(np.float32)
        data[name] = [w, b]
        arrays[f"vgg/{name}/w"], arrays[f"vgg/{name}/b"] = w, b
    npy = os.path.join(os.path.dirname(out), "vgg16_random.npy")
    np.save(npy, data, allow_pickle=True)
    vgg = vgg16.Vgg16(npy)
    image = const("vgg/image", (N, 60, 76, 3))  # [-1, 1], non-square, resized to 224
    vgg.build(image)
    fetch["vgg/pool1"], fetch["vgg/pool2"], fetch["vgg/pool3"] = vgg.pool1, vgg.pool2, vgg.pool3

    # The generator: both stages, official widths (cnum 32) and rates (2, 4, 8, 16).
    gt = const("gen/image_gt", (N, H, W, 3))
    x1, x2 = inpaint_model.RW_generator(gt * mask, mask)
    fetch["gen/x1"], fetch["gen/x2"] = x1, x2

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = sess.run(fetch)
        variables = {v.name: sess.run(v) for v in tf.global_variables()}
    np.savez(out, **{f"in/{k}": v for k, v in arrays.items()},
             **{f"out/{k}": v for k, v in values.items()},
             **{f"var/{k}": v for k, v in variables.items()})


# ----------------------------------------------------------------------------------------------
# Parent: the port
# ----------------------------------------------------------------------------------------------
def _region_layer(variables, prefix, known_channels, upsample):
    from tfinpaint.layers.region_conv import RegionConv2D

    kernel = variables[f"{prefix}/kernel:0"]
    bias = variables[f"{prefix}/bias:0"]
    layer = RegionConv2D(kernel.shape[-1], 3, upsample=upsample)
    return layer, (kernel[:, :, :known_channels], kernel[:, :, known_channels:], bias)


def _load_region(layer, weights):
    layer.kernel_known.assign(weights[0])
    layer.kernel_missing.assign(weights[1])
    layer.bias.assign(weights[2])


def _generator_weights(model, variables):
    """Assigns the authors' RW_generator variables to RegionwiseInpaintNet; strict."""
    used = set()

    def take(name):
        used.add(name)
        return variables[name]

    for stage, scope in ((1, "inpaint_net"), (2, "inpaint_net_1")):
        for attr in dir(model):
            if not attr.startswith(f"s{stage}_"):
                continue
            layer = getattr(model, attr)
            short = attr[3:]
            if short.startswith("com_"):  # region_deconv -> standard_dconv(name + "_fusion")
                tf_name = f"{scope}/{short}_fusion_1" if layer.upsample else \
                    f"{scope}/{short}_fusion"
                kernel = take(f"{tf_name}/kernel:0")
                ck = layer.kernel_known.shape[2]
                layer.kernel_known.assign(kernel[:, :, :ck])
                layer.kernel_missing.assign(kernel[:, :, ck:])
                layer.bias.assign(take(f"{tf_name}/bias:0"))
            else:  # standard_conv / standard_dconv: tf.layers.conv2d(name + "_1")
                layer.kernel.assign(take(f"{scope}/{short}_1/kernel:0"))
                layer.bias.assign(take(f"{scope}/{short}_1/bias:0"))
    generator_vars = {k for k in variables if k.startswith("inpaint_net")}
    missing = sorted(generator_vars - used)
    if missing:
        raise ValueError(f"authors' variables not assigned to the port: {missing}")


def _compare(report, key, got, want):
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, (key, got.shape, want.shape)
    diff = float(np.max(np.abs(got - want)))
    scale = float(np.max(np.abs(want)))
    report[key] = {"max_abs_diff": diff, "max_abs_value": scale,
                   "relative": diff / scale if scale else diff, "shape": list(want.shape)}


def _parent(npz_path):
    import keras

    from tfinpaint.losses import FeatureExtractor, perceptual
    from tfinpaint.models.regionwise import RegionwiseInpaintNet

    data = np.load(npz_path)
    arrays = {k[3:]: data[k] for k in data.files if k.startswith("in/")}
    outs = {k[4:]: data[k] for k in data.files if k.startswith("out/")}
    variables = {k[4:]: data[k] for k in data.files if k.startswith("var/")}
    mask = arrays["mask"]
    report = {}

    layer, weights = _region_layer(variables, "chk_rc_fusion", 24, upsample=False)
    layer([arrays["rc/x_complete"], arrays["rc/x_missing"], mask])
    _load_region(layer, weights)
    _compare(report, "region_conv", layer([arrays["rc/x_complete"], arrays["rc/x_missing"],
                                           mask]), outs["rc/out"])
    layer, weights = _region_layer(variables, "chk_rd_fusion_1", 20, upsample=True)
    layer([arrays["rd/x_complete"], arrays["rd/x_missing"], mask])
    _load_region(layer, weights)
    _compare(report, "region_deconv", layer([arrays["rd/x_complete"], arrays["rd/x_missing"],
                                             mask]), outs["rd/out"])

    out = [arrays[f"loss/out{i}"] for i in range(3)]
    gt = [arrays[f"loss/gt{i}"] for i in range(3)]
    _compare(report, "new_gram", perceptual.correlation_matrix(out[1]), outs["loss/new_gram"])
    _compare(report, "loss_cor (dense)",
             perceptual.correlation_loss([out[1]], [gt[1]], "sum", chunk_size=None),
             outs["loss/cor"])
    _compare(report, "loss_cor (blocks of 64 rows)",
             perceptual.correlation_loss([out[1]], [gt[1]], "sum", chunk_size=64),
             outs["loss/cor"])
    _compare(report, "loss_style", perceptual.style_loss(out, gt, "sum"), outs["loss/style"])

    fx = FeatureExtractor("vgg16", ("pool1", "pool2", "pool3"), weights=None,
                          normalization="caffe", resize=224)
    for name, _, _ in VGG_CONVS[:7]:
        b, i = name[4], name[6]
        conv = fx.model.get_layer(f"block{b}_conv{i}")
        conv.kernel.assign(arrays[f"vgg/{name}/w"])
        conv.bias.assign(arrays[f"vgg/{name}/b"])
    feats = fx((arrays["vgg/image"] + 1.0) / 2.0)
    for key in ("pool1", "pool2", "pool3"):
        _compare(report, f"Vgg16.build {key} (224 px)", feats[key], outs[f"vgg/{key}"])

    model = RegionwiseInpaintNet(cnum=32, dilation_rates=(2, 4, 8, 16))
    model.build(None)
    _generator_weights(model, variables)
    image01 = (arrays["gen/image_gt"] + 1.0) / 2.0
    result = model((image01, mask), training=False)
    _compare(report, "RW_generator stage 1 (x1)",
             keras.ops.convert_to_numpy(result["stage_1"]) * 2.0 - 1.0, outs["gen/x1"])
    _compare(report, "RW_generator stage 2 (x2)",
             keras.ops.convert_to_numpy(result["output"]) * 2.0 - 1.0, outs["gen/x2"])
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", help="checkout of vickyFox/Region-wise-Inpainting")
    parser.add_argument("--tf-keras-site", default=None,
                        help="directory holding tf_keras (pip install --target DIR tf-keras)")
    parser.add_argument("--out", default=None, help="write the report as JSON")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repo = os.path.abspath(args.repo)
    if args.child:
        _child(repo, args.child)
        return 0
    for f in ("region_conv.py", "inpaint_model.py", "inpaint_ops.py", "vgg/vgg16.py"):
        if not os.path.isfile(os.path.join(repo, f)):
            raise SystemExit(f"{repo} is not a Region-wise-Inpainting checkout: {f} missing")
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "official.npz")
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
        if args.tf_keras_site:
            env["PYTHONPATH"] = os.pathsep.join(
                [os.path.abspath(args.tf_keras_site), env.get("PYTHONPATH", "")])
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), repo, "--child", npz],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit("the authors' code did not run (see above)")
        report = _parent(npz)
    import tensorflow as tf

    print(f"Region-wise port vs the authors' TF1 functions (tf.compat.v1 graph mode, TF "
          f"{tf.__version__}), seed {SEED}:")
    width = max(len(k) for k in report)
    for key, r in report.items():
        print(f"  {key:<{width}}  max |diff| {r['max_abs_diff']:.3g}  "
              f"(max |value| {r['max_abs_value']:.3g}, relative {r['relative']:.2g})")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
