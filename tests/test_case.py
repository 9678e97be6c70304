"""Shared layer checks (modeled on KerasHub's ``TestCase.run_layer_test``, STYLE.md).

``run_layer_test`` runs, in order: (1) serialization round trip (``get_config``/``from_config`` as
JSON, ``serialize_keras_object``), (2) a symbolic call on ``KerasTensor`` with unknown H, W,
(3) eager calls at batch sizes 1 and 3 and two sizes (one non-square), (4) one ``fit`` step,
(5) ``mixed_float16``: outputs in float16, weights in float32, binary outputs still exactly 0/1,
(6) one ``tf.function`` with a ``[None, None, None, C]`` signature traced once and called at two
sizes, (7) export: SavedModel save/reload and a builtins-only TFLite conversion at a fixed size,
outputs allclose.
"""

from __future__ import annotations

import json
import tempfile

import keras
import numpy as np
import tensorflow as tf


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _wrap_inputs(arrays):
    return arrays[0] if len(arrays) == 1 else arrays


class TestCase(tf.test.TestCase):
    def run_layer_test(
        self,
        layer_cls,
        init_kwargs,
        input_fn,
        sizes=((32, 32), (24, 40)),
        batch_sizes=(1, 3),
        expected_num_trainable_weights=None,
        binary_outputs=(),
        run_fit=True,
        run_mixed_precision=True,
        run_export=True,
        atol=1e-5,
    ):
        """Standard checks for a tfinpaint layer.

        Args:
            layer_cls: the layer class.
            init_kwargs: constructor arguments.
            input_fn: ``input_fn(batch, h, w) -> list of np.ndarray`` (the call's inputs).
            sizes: (H, W) pairs used for eager / tf.function calls.
            binary_outputs: indices of outputs that must be exactly 0/1 (masks).
        """
        # (1) serialization
        layer = layer_cls(**init_kwargs)
        config = layer.get_config()
        config_json = json.loads(json.dumps(config))
        revived = layer_cls.from_config(config_json)
        self.assertEqual(json.loads(json.dumps(revived.get_config())), config_json)
        serialized = keras.saving.serialize_keras_object(layer)
        revived2 = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
        self.assertIsInstance(revived2, layer_cls)

        # (2) symbolic call with unknown spatial size
        sample = input_fn(1, *sizes[0])
        sym_inputs = [keras.KerasTensor((None, None, None, a.shape[-1])) for a in sample]
        sym_out = _as_list(layer_cls(**init_kwargs)(_wrap_inputs(sym_inputs)))
        for t in sym_out:
            self.assertIsNone(t.shape[0])

        # (3) eager calls, several batch sizes and sizes; batch items are independent
        layer = layer_cls(**init_kwargs)
        for b in batch_sizes:
            for h, w in sizes:
                arrays = input_fn(b, h, w)
                outs = _as_list(layer(_wrap_inputs(arrays)))
                for o, s in zip(outs, sym_out):
                    self.assertEqual(o.shape[0], b)
                    self.assertEqual(o.shape[-1], s.shape[-1])
                    self.assertTrue(np.all(np.isfinite(keras.ops.convert_to_numpy(o))))
                for i in binary_outputs:
                    v = keras.ops.convert_to_numpy(outs[i])
                    self.assertTrue(np.all((v == 0) | (v == 1)), "binary output not 0/1")
                if b > 1:  # first sample alone gives the same result
                    single = _as_list(layer(_wrap_inputs([a[:1] for a in arrays])))
                    for o, s1 in zip(outs, single):
                        self.assertAllClose(
                            keras.ops.convert_to_numpy(o)[:1], keras.ops.convert_to_numpy(s1),
                            atol=atol, rtol=1e-4,
                        )
        if expected_num_trainable_weights is not None:
            self.assertLen(layer.trainable_weights, expected_num_trainable_weights)

        # (4) one fit step through a functional wrapper
        if run_fit:
            inputs = [keras.Input((None, None, a.shape[-1])) for a in sample]
            outs = _as_list(layer_cls(**init_kwargs)(_wrap_inputs(inputs)))
            model = keras.Model(inputs, outs[0])
            model.compile(optimizer="sgd", loss="mse")
            arrays = input_fn(2, *sizes[0])
            target = np.zeros(keras.ops.convert_to_numpy(model(arrays)).shape, "float32")
            history = model.fit(arrays, target, epochs=1, batch_size=2, verbose=0)
            self.assertTrue(np.isfinite(history.history["loss"][0]))

        # (5) mixed precision
        if run_mixed_precision:
            policy = keras.config.dtype_policy()
            try:
                keras.config.set_dtype_policy("mixed_float16")
                mp_layer = layer_cls(**init_kwargs)
                outs = _as_list(mp_layer(_wrap_inputs(input_fn(2, *sizes[0]))))
                for i, o in enumerate(outs):
                    if i in binary_outputs:
                        v = keras.ops.convert_to_numpy(o)
                        self.assertTrue(np.all((v == 0) | (v == 1)))
                    else:
                        self.assertEqual(keras.backend.standardize_dtype(o.dtype), "float16")
                for w in mp_layer.weights:
                    self.assertEqual(w.dtype, "float32")
            finally:
                keras.config.set_dtype_policy(policy)

        # (6) tf.function with unknown H, W: traced once, called at two sizes
        layer = layer_cls(**init_kwargs)
        layer(_wrap_inputs(input_fn(1, *sizes[0])))
        specs = [tf.TensorSpec((None, None, None, a.shape[-1]), tf.float32) for a in sample]
        fn = tf.function(lambda *xs: layer(_wrap_inputs(list(xs))), input_signature=specs)
        for h, w in sizes:
            arrays = input_fn(2, h, w)
            got = _as_list(fn(*arrays))
            want = _as_list(layer(_wrap_inputs(arrays)))
            for g, e in zip(got, want):
                self.assertAllClose(g, keras.ops.convert_to_numpy(e), atol=atol, rtol=1e-4)
        self.assertEqual(len(fn._list_all_concrete_functions_for_serialization()), 1)

        # (7) SavedModel round trip + builtins-only TFLite at a fixed size. Keras 3 layers must
        # be exported through keras.export.ExportArchive: a plain tf.Module holding the layer
        # saves, but the TFLite converter then leaves READ_VARIABLE ops on unfrozen variables.
        if run_export:
            h, w = sizes[0]
            arrays = input_fn(1, h, w)
            want = [keras.ops.convert_to_numpy(t) for t in _as_list(layer(_wrap_inputs(arrays)))]
            fixed = [tf.TensorSpec((1, h, w, a.shape[-1]), tf.float32, name=f"input_{i}")
                     for i, a in enumerate(sample)]
            with tempfile.TemporaryDirectory() as d:
                archive = keras.export.ExportArchive()
                archive.track(layer)
                archive.add_endpoint(
                    "serve", lambda *xs: _as_list(layer(_wrap_inputs(list(xs)))), specs
                )
                archive.add_endpoint(
                    "fixed", lambda *xs: _as_list(layer(_wrap_inputs(list(xs)))), fixed
                )
                archive.write_out(d, verbose=False)
                loaded = tf.saved_model.load(d)
                for g, e in zip(loaded.serve(*arrays), want):
                    self.assertAllClose(g, e, atol=atol, rtol=1e-4)
                converter = tf.lite.TFLiteConverter.from_saved_model(d, signature_keys=["fixed"])
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
                tflite_model = converter.convert()
            from ai_edge_litert.interpreter import Interpreter

            interp = Interpreter(model_content=tflite_model)
            interp.allocate_tensors()
            by_name = {d["name"]: d["index"] for d in interp.get_input_details()}
            for i, a in enumerate(arrays):
                (index,) = [v for k, v in by_name.items() if f"input_{i}" in k]
                interp.set_tensor(index, a.astype(np.float32))
            interp.invoke()
            outs = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
            # Output order of a TFLite model is not guaranteed: match by shape and values.
            for e in want:
                self.assertTrue(
                    any(o.shape == e.shape and np.allclose(o, e, atol=1e-4, rtol=1e-4)
                        for o in outs),
                    f"no TFLite output matches a Keras output of shape {e.shape}",
                )
