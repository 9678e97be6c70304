"""Frozen VGG16 / VGG19 feature extractor for perceptual, style and correlation losses.

The network comes from ``keras.applications.VGG16`` / ``VGG19`` (``include_top=False``), is
truncated after the deepest requested layer and frozen. Layer names can be given in the papers'
style or as Keras layer names:

* ``"pool1"`` .. ``"pool5"`` -> ``block{b}_pool`` (RFR-Net, MADF, MANet, Region-wise: pool1..3);
* ``"relu{b}_{i}"`` or ``"conv{b}_{i}"`` -> ``block{b}_conv{i}`` (Baik: VGG19 relu1_1..relu5_1
  and relu2_2/relu3_4/relu4_4/relu5_2). Keras fuses the ReLU into the convolution, so both names
  give the **post-ReLU** activation; the pre-activation output is not available (no reference
  paper uses it; Region-wise's TF ``conv_layer`` also returns the post-ReLU tensor);
* ``"block{b}_pool"`` / ``"block{b}_conv{i}"`` as they are.

Weights:

* ``"imagenet"``: Keras' ImageNet weights through ``keras.utils.get_file``; the first use
  downloads ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` (or the ``vgg19`` one) to
  ``~/.keras/models``. **On machines without internet the file must be placed there first**
  (copy it from a connected machine).
* a path to a local ``.h5`` weights file of the ``include_top=False`` model;
* ``None``: random initialisation, for tests only (a loud ``UserWarning`` is raised: perceptual
  and style losses are meaningless with a random loss network);
* torchvision-layout arrays (``features.<idx>.weight`` as ``(out, in, kh, kw)``) can be loaded
  afterwards with :meth:`FeatureExtractor.set_weights_from_torch_vgg`, e.g. to reproduce a
  PyTorch reference computation number for number.

Input normalisation (applied inside :meth:`FeatureExtractor.__call__` to ``[0, 1]`` RGB):

* ``"none"``: the image is fed as it is (RFR-Net, MANet, Baik feed ``[0, 1]``);
* ``"imagenet"``: ``(x - mean) / std`` with torchvision's ImageNet mean/std (MADF; PConv-Keras);
* ``"caffe"``: ``x * 255``, RGB -> BGR, minus the ImageNet BGR mean ``[103.939, 116.779, 123.68]``
  (``keras.applications.vgg16.preprocess_input``; Region-wise, whose TF code does the same on
  ``(x + 1) * 127.5``).

Input resize (``resize=``, applied first): Region-wise's ``Vgg16.build`` resizes every image to
224x224 with TF1 ``tf.image.resize_images`` (bilinear, ``align_corners=False`` and *no*
half-pixel centres, TF1's legacy sampling ``src = i * in / out``); ``resize=224`` does exactly
that (``ResizeBilinear(half_pixel_centers=False)``, differentiable). Resizing commutes with the
affine normalisations above, so the order is immaterial up to float rounding.

Torch ``MaxPool2d(2, 2)`` floors odd sizes, as Keras ``'valid'`` max pooling does, and torch
``Conv2d(3, padding=1)`` equals Keras ``'same'`` for stride 1, so a torchvision VGG and this
extractor agree number for number given the same weights.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

# Convolutions per block (torchvision / Keras VGG "D" and "E" configurations).
_BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_NORMALIZATIONS = ("none", "imagenet", "caffe")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)

# Layer sets used by the reference papers (paper-style names).
VGG16_POOL_LAYERS = ("pool1", "pool2", "pool3")  # RFR-Net, MADF, MANet, PConv, Region-wise
VGG19_PERCEPTUAL_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # Baik
VGG19_STYLE_LAYERS = ("relu2_2", "relu3_4", "relu4_4", "relu5_2")  # Baik


def keras_layer_name(network: str, layer: str) -> str:
    """Maps a paper-style VGG layer name to the ``keras.applications`` layer name.

    Args:
        network: ``"vgg16"`` or ``"vgg19"``.
        layer: ``"pool{b}"``, ``"relu{b}_{i}"``, ``"conv{b}_{i}"`` or a Keras name
            (``"block{b}_pool"``, ``"block{b}_conv{i}"``).

    Returns:
        The Keras layer name, e.g. ``"block3_pool"`` or ``"block2_conv2"``.
    """
    if network not in _BLOCKS:
        raise ValueError(f"network must be one of {tuple(_BLOCKS)}. Received: network={network!r}")
    blocks = _BLOCKS[network]
    m = re.fullmatch(r"(?:pool(\d)|block(\d)_pool)", layer)
    if m:
        b = int(m.group(1) or m.group(2))
        if 1 <= b <= 5:
            return f"block{b}_pool"
    m = re.fullmatch(r"(?:(?:relu|conv)(\d)_(\d)|block(\d)_conv(\d))", layer)
    if m:
        b = int(m.group(1) or m.group(3))
        i = int(m.group(2) or m.group(4))
        if 1 <= b <= 5 and 1 <= i <= blocks[b - 1]:
            return f"block{b}_conv{i}"
    raise ValueError(
        f"Unknown {network} layer {layer!r}. Use pool1..pool5, relu<b>_<i> / conv<b>_<i> with "
        f"i up to {list(blocks)} per block, or Keras names block<b>_pool / block<b>_conv<i>. "
        f"Received: layer={layer!r}"
    )


def torch_feature_indices(network: str) -> dict[int, str]:
    """torchvision ``vgg*.features`` index of each convolution -> Keras conv layer name.

    VGG16: ``{0: block1_conv1, 2: block1_conv2, 5: block2_conv1, ..., 28: block5_conv3}``;
    in ``features`` every conv is followed by a ReLU, every block by a ``MaxPool2d``.
    """
    if network not in _BLOCKS:
        raise ValueError(f"network must be one of {tuple(_BLOCKS)}. Received: network={network!r}")
    mapping, idx = {}, 0
    for b, n_convs in enumerate(_BLOCKS[network], start=1):
        for i in range(1, n_convs + 1):
            mapping[idx] = f"block{b}_conv{i}"
            idx += 2  # conv, relu
        idx += 1  # max pool
    return mapping


@contextlib.contextmanager
def _dtype_policy(dtype):
    if dtype is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class FeatureExtractor:
    """Frozen VGG feature network returning a dict of the requested activations.

    Args:
        network: ``"vgg16"`` or ``"vgg19"``. Defaults to ``"vgg16"``.
        layers: layer names (see the module docstring). Defaults to
            ``("pool1", "pool2", "pool3")``, the RFR-Net / MADF / MANet / PConv set.
        weights: ``"imagenet"``, a path to a local ``.h5`` file, or ``None`` (random; tests only,
            warns). Defaults to ``"imagenet"``.
        normalization: ``"none"``, ``"imagenet"`` or ``"caffe"``, applied to ``[0, 1]`` RGB
            inputs. Defaults to ``"none"`` (RFR-Net).
        resize: ``None`` (default) or an int / ``(H, W)``: every input is first resized to that
            size with TF1's legacy bilinear sampling (Region-wise: ``224``).
        dtype: dtype policy the VGG layers are built with. Defaults to ``"float32"`` so the loss
            network stays in float32 under a ``mixed_float16`` global policy (fp16 activations of
            deep VGG layers can overflow with ``"caffe"`` inputs); ``None`` follows the global
            policy (faster on GPUs). The returned features are always float32.

    Call arguments:
        images: ``(N, H, W, 3)`` RGB in ``[0, 1]`` (or already in the network's input space
            with ``normalization="none"``). H and W >= 2**(number of pools needed).

    Returns:
        ``dict`` layer name (as given in ``layers``) -> float32 ``(N, h, w, C)``, in the order of
        ``layers``.

    Under a ``tf.distribute`` strategy build the extractor inside ``strategy.scope()``.

    Example:

    ```python
    fx = FeatureExtractor("vgg16", weights=None)  # warns: random weights
    feats = fx(np.zeros((1, 32, 32, 3), "float32"))
    [tuple(f.shape) for f in feats.values()]  # [(1,16,16,64), (1,8,8,128), (1,4,4,256)]
    ```
    """

    def __init__(
        self,
        network: str = "vgg16",
        layers: Sequence[str] = VGG16_POOL_LAYERS,
        weights: str | os.PathLike | None = "imagenet",
        normalization: str = "none",
        dtype: str | None = "float32",
        resize: int | Sequence[int] | None = None,
    ):
        if network not in _BLOCKS:
            raise ValueError(
                f"network must be one of {tuple(_BLOCKS)}. Received: network={network!r}"
            )
        if normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {_NORMALIZATIONS}. "
                f"Received: normalization={normalization!r}"
            )
        if isinstance(layers, str):
            layers = (layers,)
        layers = tuple(layers)
        if not layers:
            raise ValueError(f"layers must name at least one VGG layer. Received: layers={layers}")
        if len(set(layers)) != len(layers):
            raise ValueError(f"layers must be unique. Received: layers={layers}")
        keras_names = tuple(keras_layer_name(network, name) for name in layers)
        if len(set(keras_names)) != len(keras_names):
            raise ValueError(
                f"layers name the same VGG layer twice (relu<b>_<i> and conv<b>_<i> are the same "
                f"Keras layer). Received: layers={layers}"
            )

        if resize is not None:
            pair = (resize, resize) if isinstance(resize, int) else tuple(resize)
            if len(pair) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in pair):
                raise ValueError(
                    f"resize must be None, a positive int or a pair of them. Received: "
                    f"resize={resize!r}"
                )
            resize = (int(pair[0]), int(pair[1]))
        self.resize = resize
        self.network = network
        self.layers = layers
        self.keras_layer_names = keras_names
        self.normalization = normalization
        self.dtype = dtype
        self.weights = None if weights is None else str(weights)

        # === Backbone ===
        if weights is None:
            warnings.warn(
                f"FeatureExtractor({network!r}, weights=None): the loss network has RANDOM "
                "weights. This is for tests only: perceptual, style and correlation losses are "
                "meaningless with it. Use weights='imagenet' (pre-place the Keras file in "
                "~/.keras/models on offline machines) or a local .h5 file.",
                UserWarning,
                stacklevel=2,
            )
            source = None
        elif str(weights) == "imagenet":
            source = "imagenet"
        else:
            if not os.path.isfile(weights):
                raise ValueError(
                    f"VGG weights file not found: {weights}. Pass 'imagenet', None or the path "
                    f"of an existing .h5 file of the include_top=False model. "
                    f"Received: weights={weights!r}"
                )
            source = os.fspath(weights)
        app = keras.applications.VGG16 if network == "vgg16" else keras.applications.VGG19
        with _dtype_policy(dtype):
            try:
                full = app(include_top=False, weights=source, input_shape=(None, None, 3))
            except Exception as e:  # offline 'imagenet' download, corrupt file, ...
                if source != "imagenet":
                    raise
                fname = f"{network}_weights_tf_dim_ordering_tf_kernels_notop.h5"
                raise RuntimeError(
                    f"Could not get the Keras ImageNet weights for {network} ({e}). On a machine "
                    f"without internet, copy {fname} into ~/.keras/models/ first, or pass the "
                    f"path of the file as weights=."
                ) from e
        # === Truncated functional model: stops at the deepest requested layer ===
        outputs = [full.get_layer(name).output for name in keras_names]
        self.model = keras.Model(full.input, outputs, name=f"{network}_features")
        self.model.trainable = False

    # --------------------------------------------------------------------------------------
    def normalize(self, images):
        """Applies the input resize (if any) and normalisation to ``[0, 1]`` RGB (float32)."""
        x = ops.cast(images, "float32")
        if self.resize is not None:
            # TF1 tf.image.resize_images (Region-wise Vgg16.build): legacy bilinear sampling.
            x = tf.raw_ops.ResizeBilinear(images=x, size=self.resize, align_corners=False,
                                          half_pixel_centers=False)
        if self.normalization == "imagenet":
            mean = ops.convert_to_tensor(np.asarray(IMAGENET_MEAN, "float32"))
            std = ops.convert_to_tensor(np.asarray(IMAGENET_STD, "float32"))
            x = (x - mean) / std
        elif self.normalization == "caffe":
            mean = ops.convert_to_tensor(np.asarray(CAFFE_BGR_MEAN, "float32"))
            x = ops.flip(x * 255.0, axis=-1) - mean
        return x

    def __call__(self, images) -> dict:
        shape = tuple(images.shape)
        if len(shape) != 4 or (shape[-1] is not None and shape[-1] != 3):
            raise ValueError(
                f"FeatureExtractor expects RGB images (N, H, W, 3). Received: shape={shape}"
            )
        x = self.normalize(images)
        feats = self.model(x, training=False)
        if not isinstance(feats, (list, tuple)):
            feats = [feats]
        return {name: ops.cast(f, "float32") for name, f in zip(self.layers, feats)}

    # --------------------------------------------------------------------------------------
    def set_weights_from_torch_vgg(self, params: Mapping[str, np.ndarray], prefix: str = ""):
        """Loads torchvision-layout VGG conv weights into the (truncated) Keras network.

        Args:
            params: name -> array. Names are ``f"{prefix}{idx}.weight"`` / ``".bias"`` with
                ``idx`` the index in torchvision's ``vgg16().features`` / ``vgg19().features``
                (convs at 0, 2, 5, 7, 10, 12, 14, ... for VGG16). Weights are PyTorch
                ``(out, in, kh, kw)`` and are transposed to Keras ``(kh, kw, in, out)``.
            prefix: prefix of every key, e.g. ``"vgg16.features."``. Keys without it are
                rejected.

        Returns:
            Sorted list of keys that were skipped because their conv lies beyond the
            truncation point (not needed for the requested layers).

        Raises:
            ValueError: on a key that is not a VGG conv weight/bias of this network, a shape
                mismatch, or a conv of the truncated network left without weight or bias.
        """
        convs = torch_feature_indices(self.network)
        present = {layer.name for layer in self.model.layers}
        pending: dict[str, dict[str, np.ndarray]] = {}
        skipped = []
        for key, value in params.items():
            if not key.startswith(prefix):
                raise ValueError(f"Key {key!r} does not start with prefix={prefix!r}.")
            m = re.fullmatch(r"(\d+)\.(weight|bias)", key[len(prefix) :])
            if not m or int(m.group(1)) not in convs:
                raise ValueError(
                    f"Key {key!r} is not a conv weight/bias of torchvision {self.network}.features "
                    f"(conv indices {sorted(convs)}). Received: key={key!r}, prefix={prefix!r}"
                )
            layer_name = convs[int(m.group(1))]
            if layer_name not in present:
                skipped.append(key)
                continue
            pending.setdefault(layer_name, {})[m.group(2)] = np.asarray(value)
        for layer in self.model.layers:
            if not isinstance(layer, keras.layers.Conv2D):
                continue
            got = pending.pop(layer.name, {})
            if set(got) != {"weight", "bias"}:
                raise ValueError(
                    f"Missing torch weight or bias for {layer.name} "
                    f"(torch features index {_index_of(convs, layer.name)}). "
                    f"Received keys for it: {sorted(got)}"
                )
            kernel_shape = tuple(layer.kernel.shape)
            expected = (kernel_shape[3], kernel_shape[2], kernel_shape[0], kernel_shape[1])
            if tuple(got["weight"].shape) != expected or tuple(got["bias"].shape) != (
                kernel_shape[3],
            ):
                raise ValueError(
                    f"Shape mismatch for {layer.name}: expected torch weight {expected} and bias "
                    f"({kernel_shape[3]},). Received: weight={tuple(got['weight'].shape)}, "
                    f"bias={tuple(got['bias'].shape)}"
                )
            layer.kernel.assign(np.transpose(got["weight"], (2, 3, 1, 0)).astype("float32"))
            layer.bias.assign(got["bias"].astype("float32"))
        return sorted(skipped)


def _index_of(convs: dict[int, str], name: str) -> int:
    return next(i for i, n in convs.items() if n == name)
