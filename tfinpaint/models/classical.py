"""Classical (non-learned) inpainting baselines: OpenCV ``cv2.inpaint``.

Two methods, registered as models so that evaluation and inference treat them like any network:

- ``cv2-telea``: Telea, "An Image Inpainting Technique Based on the Fast Marching Method",
  Journal of Graphics Tools 9(1), 2004 (``cv2.INPAINT_TELEA``). Pixels are filled in order of
  their distance to the hole boundary, each as a weighted average of known pixels within
  ``radius`` (weights favour near pixels, pixels along the normal and on the same level set).
- ``cv2-ns``: Bertalmio, Bertozzi and Sapiro, "Navier-Stokes, Fluid Dynamics, and Image and
  Video Inpainting", CVPR 2001 (``cv2.INPAINT_NS``). Isophotes are continued into the hole by
  solving a transport (vorticity) equation, as in incompressible fluid flow.

OpenCV's contract (``cv.inpaint(src, inpaintMask, inpaintRadius, flags)``): ``src`` 8-bit 1- or
3-channel, ``inpaintMask`` 8-bit 1-channel with **non-zero = area to inpaint**, ``inpaintRadius``
the radius of the circular neighbourhood considered around each inpainted point. Both methods
process the colour channels independently, so RGB vs BGR order does not matter.

Default radius is 3 (a common choice in OpenCV's own examples). IOPaint's ``cv2`` model uses
``INPAINT_NS`` with radius 4 (``iopaint/model/opencv2.py``); pass ``radius=4`` to
:func:`tfinpaint.models.build` to reproduce it.
"""

from __future__ import annotations

import cv2
import numpy as np

from tfinpaint.models.registry import ModelSpec, register_model

_FLAGS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


class ClassicalInpainter:
    """``cv2.inpaint`` behind the tfinpaint generator contract.

    Called as ``inpainter((image, mask))`` like a generator: ``image`` float ``[0, 1]``
    ``(N, H, W, 3)``, ``mask`` float ``(N, H, W, 1)`` with **1 = known, 0 = hole** (values
    ``< 0.5`` are holes). Each image is converted to uint8 (``round(clip(x, 0, 1) * 255)``), the
    hole (mask == 0) is passed to ``cv2.inpaint`` as a non-zero 8-bit mask, and the result is
    returned as float32 ``[0, 1]``. Known pixels of the output equal the uint8-rounded input; the
    caller composites as for any model. Runs eagerly with numpy (not inside ``tf.function``).

    Args:
        method: ``"telea"`` (fast marching, Telea 2004) or ``"ns"`` (Navier-Stokes,
            Bertalmio et al. 2001). Defaults to ``"telea"``.
        radius: neighbourhood radius in pixels, ``>= 1``. Defaults to ``3``.

    Returns (of ``__call__``):
        ``{"output": tf.Tensor}`` float32 ``(N, H, W, 3)`` in ``[0, 1]``.

    Examples:
    ```python
    import numpy as np
    from tfinpaint.models.classical import ClassicalInpainter
    image = np.random.rand(1, 32, 32, 3).astype("float32")
    mask = np.ones((1, 32, 32, 1), "float32"); mask[:, 8:16, 8:16] = 0
    out = ClassicalInpainter("telea", radius=3)((image, mask))["output"]
    assert out.shape == (1, 32, 32, 3)
    ```
    """

    size_multiple = 1

    def __init__(self, method: str = "telea", radius: int = 3):
        if method not in _FLAGS:
            raise ValueError(
                f"method must be one of {sorted(_FLAGS)}. Received: method={method!r}"
            )
        if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 1:
            raise ValueError(f"radius must be an integer >= 1. Received: radius={radius!r}")
        self.method = method
        self.radius = int(radius)
        self.name = f"cv2-{method}"

    def get_config(self) -> dict:
        return {"method": self.method, "radius": self.radius}

    def __repr__(self) -> str:
        return f"ClassicalInpainter(method={self.method!r}, radius={self.radius})"

    def inpaint_uint8(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """One image: uint8 ``(H, W, 3)`` and a hole mask ``(H, W)`` (non-zero = fill)."""
        hole = (np.asarray(hole) != 0).astype(np.uint8) * 255
        if not hole.any():
            return image.copy()
        return cv2.inpaint(
            np.ascontiguousarray(image), hole, self.radius, _FLAGS[self.method]
        )

    def __call__(self, inputs, training=None):
        del training  # nothing to train
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ValueError(
                "ClassicalInpainter expects inputs=(image, mask). "
                f"Received: type(inputs)={type(inputs).__name__}"
            )
        image = np.asarray(inputs[0], dtype=np.float32)
        mask = np.asarray(inputs[1], dtype=np.float32)
        if image.ndim != 4 or image.shape[-1] != 3:
            raise ValueError(
                f"image must be float (N, H, W, 3) in [0, 1]. Received: image.shape={image.shape}"
            )
        if mask.shape != image.shape[:3] + (1,):
            raise ValueError(
                "mask must be float (N, H, W, 1) with 1 = known, matching the image. "
                f"Received: mask.shape={mask.shape}, image.shape={image.shape}"
            )
        if not (np.all(np.isfinite(image)) and np.all(np.isfinite(mask))):
            raise ValueError("image and mask must not contain NaN or Inf values.")
        image_u8 = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
        hole = mask[..., 0] < 0.5
        out = np.empty_like(image_u8)
        for i in range(image_u8.shape[0]):
            out[i] = self.inpaint_uint8(image_u8[i], hole[i])
        import tensorflow as tf

        return {"output": tf.convert_to_tensor(out.astype(np.float32) / 255.0)}


def _metadata(method: str) -> dict:
    common = {
        "official": "OpenCV cv2.inpaint (imgproc/src/inpaint.cpp)",
        "input_range": "[0, 1] float, converted to uint8 internally",
        "size_multiple": 1,
        "params": 0,
        "notes": (
            "Non-learned baseline; no weights, no size constraint. Default radius 3; IOPaint's "
            "cv2 model uses INPAINT_NS with radius 4 (build('cv2-ns', radius=4))."
        ),
    }
    if method == "telea":
        return {
            **common,
            "paper": "Telea, An Image Inpainting Technique Based on the Fast Marching Method",
            "venue": "Journal of Graphics Tools 9(1), 2004",
            "flag": "cv2.INPAINT_TELEA",
        }
    return {
        **common,
        "paper": "Bertalmio, Bertozzi, Sapiro, Navier-Stokes, Fluid Dynamics, and Image and "
        "Video Inpainting",
        "venue": "CVPR 2001",
        "flag": "cv2.INPAINT_NS",
    }


def build_cv2_telea(radius: int = 3) -> ClassicalInpainter:
    """Builds the Telea (fast marching) baseline."""
    return ClassicalInpainter("telea", radius=radius)


def build_cv2_ns(radius: int = 3) -> ClassicalInpainter:
    """Builds the Navier-Stokes baseline."""
    return ClassicalInpainter("ns", radius=radius)


for _name, _builder, _method in (("cv2-telea", build_cv2_telea, "telea"),
                                 ("cv2-ns", build_cv2_ns, "ns")):
    register_model(
        ModelSpec(
            name=_name,
            builder=_builder,
            config={"radius": 3},
            kind="classical",
            size_multiple=1,
            metadata=_metadata(_method),
        )
    )
