#!/usr/bin/env python
"""Runs an exported SavedModel the way TensorFlow Serving does, without importing tfinpaint.

TF Serving loads the ``serve`` tag into a TF1-style session and feeds/fetches the signature's
tensors by name. This script does exactly that with ``tf.compat.v1``:

    python scripts/tfserving_session_check.py saved_models/NAME/VERSION \
        --image photo.png --mask mask.png --out result.png

Without --image it runs a synthetic 2 x 37 x 53 request. It prints a JSON line with the
signature's tensor names, the ops in the graph, and the output's shape and dtype, and fails when
a Python-only op (PyFunc, EagerPyFunc, ...) is in the graph.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import tensorflow as tf

PYTHON_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc", "NumpyFunction"}


def graph_ops(meta_graph) -> set[str]:
    ops = {node.op for node in meta_graph.graph_def.node}
    for fn in meta_graph.graph_def.library.function:
        ops.update(node.op for node in fn.node_def)
    return ops


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export_dir")
    parser.add_argument("--image")
    parser.add_argument("--mask", help="white / nonzero = area to fill")
    parser.add_argument("--out")
    parser.add_argument("--signature", default="serving_default")
    args = parser.parse_args(argv)

    if "tfinpaint" in sys.modules:
        raise RuntimeError("this check must run without tfinpaint")
    if args.image:
        image = tf.io.decode_image(tf.io.read_file(args.image), channels=3,
                                   expand_animations=False).numpy()[None]
        mask = tf.io.decode_image(tf.io.read_file(args.mask), channels=1,
                                  expand_animations=False).numpy()[None]
        mask = (mask > 127).astype(np.uint8) * 255
    else:
        rng = np.random.default_rng(0)
        image = rng.integers(0, 256, (2, 37, 53, 3), dtype=np.uint8)
        mask = np.zeros((2, 37, 53, 1), np.uint8)
        mask[:, 10:25, 12:30] = 255

    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], args.export_dir)
        signature = meta.signature_def[args.signature]
        feeds = {signature.inputs["image"].name: image, signature.inputs["mask"].name: mask}
        fetch = signature.outputs["inpainted"].name
        result = sess.run(fetch, feed_dict=feeds)
        ops = graph_ops(meta)
    bad = sorted(ops & PYTHON_OPS)
    keep = mask[..., 0] == 0
    report = {
        "inputs": {k: v.name for k, v in signature.inputs.items()},
        "outputs": {k: v.name for k, v in signature.outputs.items()},
        "output_shape": list(result.shape),
        "output_dtype": str(result.dtype),
        "python_ops": bad,
        "num_op_types": len(ops),
        "known_pixels_unchanged": bool(np.all(result[keep] == image[keep])),
    }
    if args.out:
        tf.io.write_file(args.out, tf.io.encode_png(result[0]))
    print(json.dumps(report))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
