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

    # ------------------------------------------------------------------------------------------
    # Generators
    # ------------------------------------------------------------------------------------------
    def run_generator_test(
        self,
        name_or_model,
        init_kwargs=None,
        input_size=None,
        batch=2,
        output_range=(0.0, 1.0),
        check_hole_invariance=True,
        check_errors=True,
        check_saving=True,
        check_tf_function=True,
        atol=1e-5,
        seed=0,
    ):
        """Standard checks for an inpainting generator (DESIGN section 3 contract).

        Checks, in order:
        (1) the model is built from the registry (``build(name, **init_kwargs)``) or taken as
            given, and has an int ``size_multiple`` >= 1;
        (2) ``model((image, mask), training=False)`` returns a dict with ``"output"`` of shape
            ``(N, H, W, 3)``, every entry finite; ``"output"`` lies in ``output_range``
            (``None`` for generators that document a raw, unbounded output);
        (3) compositing with ``tfinpaint.training.trainer.composite`` leaves known pixels
            bit-identical and fills only holes;
        (4) hole invariance: changing the image *inside the hole* changes nothing (the model
            never looks at hole pixels, so the Inpainter/trainer cannot leak the target);
        (5) batch independence: the first sample alone gives the same outputs;
        (6) ``training=True`` call gives finite outputs of the same shapes (this may update
            BatchNorm statistics; later checks compare against fresh calls);
        (7) errors: a size that is not a multiple of ``size_multiple`` raises ``ValueError``
            naming the size and the multiple; a 4-channel image, a 2-channel mask and an
            integer image raise ``ValueError``;
        (8) a ``tf.function`` with ``[None, None, None, C]`` signatures is traced once, called at
            two sizes and agrees with eager;
        (9) ``.keras`` save/load round trip gives the same class and identical outputs.

        Args:
            name_or_model: registry name or a built/unbuilt ``keras.Model``.
            init_kwargs: registry overrides (only with a name).
            input_size: ``(H, W)``; defaults to the smallest multiples of ``size_multiple``
                that are >= 64, with W one multiple larger (non-square).
            batch: batch size (>= 2 for the batch-independence check).
            output_range: ``(lo, hi)`` bound on ``"output"``, or ``None`` (raw output).

        Returns:
            ``(model, outputs)``: the model and its eager ``training=False`` outputs (numpy
            dict) from check (2), so callers can add model-specific checks.
        """
        from tfinpaint.training.trainer import composite

        # (1) build
        if isinstance(name_or_model, str):
            from tfinpaint.models import registry

            model = registry.build(name_or_model, **(init_kwargs or {}))
        else:
            if init_kwargs:
                raise ValueError("init_kwargs is only used with a registry name.")
            model = name_or_model
        multiple = getattr(model, "size_multiple", None)
        self.assertIsInstance(multiple, int, "generator has no int size_multiple")
        self.assertGreaterEqual(multiple, 1)
        if input_size is None:
            side = multiple * -(-64 // multiple)
            input_size = (side, side + multiple)
        h, w = input_size
        self.assertEqual(h % multiple, 0, "input_size must be a multiple of size_multiple")
        self.assertEqual(w % multiple, 0, "input_size must be a multiple of size_multiple")

        rng = np.random.default_rng(seed)

        def draw(b, hh, ww):
            image = rng.uniform(0.0, 1.0, (b, hh, ww, 3)).astype("float32")
            mask = np.ones((b, hh, ww, 1), "float32")
            for i in range(b):  # a different rectangular hole per sample, plus scattered pixels
                y0, x0 = rng.integers(0, hh // 2), rng.integers(0, ww // 2)
                mask[i, y0 : y0 + hh // 3, x0 : x0 + ww // 4] = 0.0
                mask[i][rng.uniform(size=(hh, ww, 1)) < 0.05] = 0.0
            return image, mask

        def run(m, image, mask, training=False):
            out = m((image, mask), training=training)
            self.assertIsInstance(out, dict, "generator must return a dict")
            self.assertIn("output", out)
            return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}

        # (2) eager call
        image, mask = draw(batch, h, w)
        outputs = run(model, image, mask)
        self.assertEqual(outputs["output"].shape, (batch, h, w, 3))
        for key, value in outputs.items():
            self.assertTrue(np.all(np.isfinite(value)), f"non-finite values in {key!r}")
        if output_range is not None:
            lo, hi = output_range
            self.assertGreaterEqual(float(outputs["output"].min()), lo)
            self.assertLessEqual(float(outputs["output"].max()), hi)

        # (3) compositing keeps known pixels exactly, fills holes with the output
        comp = keras.ops.convert_to_numpy(composite(image, mask, outputs["output"]))
        known = np.broadcast_to(mask == 1.0, comp.shape)
        self.assertAllEqual(comp[known], image[known])
        self.assertAllClose(comp[~known], outputs["output"][~known], atol=1e-6)

        # (4) hole content is invisible to the model
        if check_hole_invariance:
            noisy = np.where(mask == 1.0, image, rng.uniform(size=image.shape)).astype("float32")
            again = run(model, noisy, mask)
            for key in outputs:
                self.assertAllClose(again[key], outputs[key], atol=atol, rtol=1e-4,
                                    msg=f"{key!r} depends on pixels inside the hole")

        # (5) batch independence
        if batch > 1:
            single = run(model, image[:1], mask[:1])
            for key in outputs:
                self.assertAllClose(single[key], outputs[key][:1], atol=atol, rtol=1e-4,
                                    msg=f"{key!r} depends on other batch items")

        # (6) training-mode call
        trained = run(model, image, mask, training=True)
        for key, value in trained.items():
            self.assertEqual(value.shape, outputs[key].shape)
            self.assertTrue(np.all(np.isfinite(value)), f"non-finite {key!r} with training=True")

        # (7) clear errors
        if check_errors:
            if multiple > 1:
                bad_h = h + 1
                bad_image, bad_mask = draw(1, bad_h, w)
                names_both = rf"(?s)(?=.*\b{bad_h}\b)(?=.*\b{multiple}\b)"
                with self.assertRaisesRegex(ValueError, names_both):
                    model((bad_image, bad_mask), training=False)
            with self.assertRaisesRegex(ValueError, "channel"):
                model((np.zeros((1, h, w, 4), "float32"), mask[:1]), training=False)
            with self.assertRaisesRegex(ValueError, "channel"):
                model((image[:1], np.ones((1, h, w, 2), "float32")), training=False)
            with self.assertRaisesRegex(ValueError, "float"):
                model(((image[:1] * 255).astype("uint8"), mask[:1]), training=False)

        # (8) tf.function, unknown H and W, traced once
        if check_tf_function:
            fn = tf.function(
                lambda x, m: model((x, m), training=False),
                input_signature=[
                    tf.TensorSpec((None, None, None, 3), tf.float32),
                    tf.TensorSpec((None, None, None, 1), tf.float32),
                ],
            )
            for hh, ww in ((h, w), (h + multiple, w)):
                x2, m2 = (image, mask) if (hh, ww) == (h, w) else draw(1, hh, ww)
                got = {k: v.numpy() for k, v in fn(x2, m2).items()}
                want = run(model, x2, m2)
                for key in want:
                    self.assertAllClose(got[key], want[key], atol=atol, rtol=1e-4)
            self.assertEqual(len(fn._list_all_concrete_functions_for_serialization()), 1)

        # (9) .keras round trip
        if check_saving:
            before = run(model, image, mask)  # (6) may have moved BatchNorm statistics
            with tempfile.TemporaryDirectory() as d:
                path = f"{d}/generator.keras"
                model.save(path)
                revived = keras.saving.load_model(path)
            self.assertIsInstance(revived, type(model))
            self.assertEqual(revived.size_multiple, multiple)
            again = run(revived, image, mask)
            for key in before:
                self.assertAllClose(again[key], before[key], atol=1e-6, rtol=0)
        return model, outputs
