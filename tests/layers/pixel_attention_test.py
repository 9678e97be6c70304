"""MANet's PixelAttention / PixelContextualAttention and SqueezeExcitation against a numpy
transcription of the official per-sample code (``ContextualAttention.py``)."""

import keras
import numpy as np

from tests.test_case import TestCase
from tfinpaint.layers.attention import PixelAttention, PixelContextualAttention
from tfinpaint.layers.squeeze_excitation import SqueezeExcitation


def _official_ca(feature, mask):
    """ContextualAttentionModule(patch 1, propagate 3), one sample at a time, NHWC numpy."""
    out = []
    for f, m in zip(feature.astype(np.float64), mask.astype(np.float64)):
        h, w, c = f.shape
        keys = (f * m).reshape(h * w, c) + 1e-7  # background = foreground * mask, unfold k=1
        keys = keys / np.sqrt((keys**2).sum(-1, keepdims=True))
        scores = (f.reshape(h * w, c) @ keys.T).reshape(h, w, h * w)  # conv2d, key = channel
        padded = np.pad(scores, ((1, 1), (1, 1), (0, 0)))  # grouped 3x3 ones conv, padding 1
        prop = sum(padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3))
        e = np.exp(prop - prop.max(-1, keepdims=True))
        att = e / e.sum(-1, keepdims=True)  # softmax over dim 1 (keys)
        rec = (att.reshape(h * w, h * w) @ keys).reshape(h, w, c)  # conv_transpose2d
        out.append(rec * (1 - m) + f * m)
    return np.stack(out)


def _inputs(b, h, w, c=6, seed=0):
    rng = np.random.default_rng(seed + 100 * b + h)
    f = rng.standard_normal((b, h, w, c)).astype("float32")
    m = np.ones((b, h, w, 1), "float32")
    m[:, h // 4: 3 * h // 4, w // 3:] = 0
    if b > 1:
        m[1] = 1
        m[1, : h // 2, : w // 2] = 0
    return f, m


class PixelAttentionTest(TestCase):
    def test_matches_official_loop(self):
        f, m = _inputs(2, 6, 9)
        got = PixelAttention()([f, m])
        self.assertAllClose(got, _official_ca(f, m), atol=1e-5)
        known = np.broadcast_to(m, f.shape) == 1
        self.assertAllEqual(np.asarray(got)[known], f[known])  # known pixels pass through

    def test_layer_contract(self):
        self.run_layer_test(PixelAttention, {}, lambda b, h, w: list(_inputs(b, h, w)),
                            sizes=((8, 8), (6, 10)))

    def test_pixel_contextual_attention_composite(self):
        f, _ = _inputs(2, 4, 6, c=8)
        full = np.ones((2, 16, 24, 1), "float32")
        full[0, 4:12, 8:20] = 0
        layer = PixelContextualAttention(mask_stride=4)
        out, att = layer([f, full])
        small = full[:, ::4, ::4]  # F.interpolate(nearest): source index i * 4
        self.assertAllClose(att, _official_ca(f, small), atol=1e-5)
        cat = np.concatenate([f, np.asarray(att)], -1)
        se = layer.squeeze_excitation
        w1, b1 = se.fc1.kernel.numpy(), se.fc1.bias.numpy()
        w2, b2 = se.fc2.kernel.numpy(), se.fc2.bias.numpy()
        gate = 1 / (1 + np.exp(-(np.maximum(cat.mean((1, 2)) @ w1 + b1, 0) @ w2 + b2)))
        want = (cat * gate[:, None, None]) @ layer.combiner.kernel.numpy()[0, 0]
        self.assertAllClose(out, want + layer.combiner.bias.numpy(), atol=1e-5)
        with self.assertRaisesRegex(ValueError, "mask_stride=4"):
            layer([f, full[:, :8]])
        # run_layer_test feeds every input at one size: stride 1 (stride 4 is checked above).
        self.run_layer_test(PixelContextualAttention, {}, lambda b, h, w: list(_inputs(b, h, w)),
                            sizes=((8, 8), (6, 10)), expected_num_trainable_weights=6)

    def test_squeeze_excitation(self):
        self.run_layer_test(SqueezeExcitation, {"squeeze_ratio": 0.5},
                            lambda b, h, w: [_inputs(b, h, w)[0]])
        with self.assertRaisesRegex(ValueError, "squeeze_ratio"):
            SqueezeExcitation(0)
        with self.assertRaisesRegex(ValueError, "known C"):
            SqueezeExcitation()(keras.KerasTensor((None, 4, 4, None)))
