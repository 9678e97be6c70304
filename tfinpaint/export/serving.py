"""Clients for TF Serving (and :mod:`tfinpaint.export.model_server`): gRPC and REST.

Both clients talk to a model exported by :func:`tfinpaint.export.saved_model.export_saved_model`:

- :class:`GrpcClient` calls ``PredictionService/Predict`` on the ``serving_default`` signature
  (uint8 ``image`` ``[B, H, W, 3]`` + uint8 ``mask`` ``[B, H, W, 1]``, white = hole ->
  ``inpainted``) or on ``encoded`` (PNG/JPEG bytes in, PNG bytes out), plus
  ``GetModelMetadata`` and ``ModelService/GetModelStatus``.
- :class:`RestClient` posts to ``/v1/models/<name>[/versions/<v>]:predict`` with the
  ``encoded`` signature (images travel as ``{"b64": ...}`` PNG files, the compact choice for
  JSON) and reads ``GET /v1/models/<name>`` / ``.../metadata``. It uses only ``urllib``.

Masks follow the edge convention (DESIGN.md section 2): **the mask marks the area to fill**,
binarized on the client by the one rule (:func:`tfinpaint.data.polarity.hole_from_user_mask`:
a 0/1 mask where 1, a 0..255 mask where >= 128, bool ``True``) and sent as 0/255, which the
signatures' graph rule reads as the same hole. Masks may be ``(H, W)`` or ``(H, W, C)``, or
batched ``(N, H, W[, C])``.

Errors come back as :class:`ServingError` with the gRPC status name (``INVALID_ARGUMENT``,
``NOT_FOUND``, ``UNAVAILABLE``, ``DEADLINE_EXCEEDED``, ...) and the server's message. Only
``UNAVAILABLE`` (server not reachable, starting or stopping; HTTP 503 or a refused connection
for REST) is retried, ``retries`` times with exponential backoff ``backoff * 2 ** attempt``
seconds: other errors are the request's fault and would fail again. ``timeout`` is the
deadline of each attempt.

Example:
```python
from tfinpaint.export.serving import GrpcClient
with GrpcClient("127.0.0.1:8500", "pconv") as client:
    result = client.predict(image, mask)          # uint8 (H, W, 3)
    print(client.status())
```
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import grpc
import numpy as np
from PIL import Image

from tfinpaint.data.polarity import check_mask_size, hole_from_user_mask, resize_hole

__all__ = ["ServingError", "GrpcClient", "RestClient", "prepare_request", "encode_png",
           "decode_png"]

DEFAULT_SIGNATURE = "serving_default"
ENCODED_SIGNATURE = "encoded"
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024

# HTTP status -> gRPC status name (the inverse of TF Serving's REST mapping).
_CODE_BY_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "RESOURCE_EXHAUSTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ServingError(RuntimeError):
    """A failed serving call.

    Attributes:
        code: gRPC status name, e.g. ``"INVALID_ARGUMENT"``, ``"NOT_FOUND"``, ``"UNAVAILABLE"``.
        details: the server's (or transport's) message.
        attempts: how many attempts were made (> 1 only for retried ``UNAVAILABLE``).
        target: the server address.
        http_status: the HTTP status for REST calls, else ``None``.
    """

    def __init__(self, code: str, details: str, *, attempts: int = 1, target: str | None = None,
                 http_status: int | None = None):
        self.code = code
        self.details = details
        self.attempts = attempts
        self.target = target
        self.http_status = http_status
        where = f" from {target}" if target else ""
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        http = f" (HTTP {http_status})" if http_status else ""
        super().__init__(f"{code}{http}{where}{tries}: {details}")


# --------------------------------------------------------------------------------------------
# Arrays and files
# --------------------------------------------------------------------------------------------


def _image_uint8(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if np.issubdtype(image.dtype, np.floating):
        if image.size and (not np.all(np.isfinite(image)) or image.min() < 0 or image.max() > 1):
            raise ValueError(
                "A float image must hold values in [0, 1]. Received: "
                f"min={float(np.nanmin(image))}, max={float(np.nanmax(image))}"
            )
        return np.round(image * 255.0).astype(np.uint8)
    raise ValueError(f"image must be uint8 [0, 255] or float [0, 1]. Received: dtype={image.dtype}")


def prepare_request(image, mask) -> tuple[np.ndarray, np.ndarray, bool]:
    """Normalizes an image (batch) and mask to ``serving_default`` inputs.

    Args:
        image: uint8 or float ``[0, 1]``, ``(H, W, 3)`` or ``(N, H, W, 3)``.
        mask: area to fill by the one rule of :mod:`tfinpaint.data.polarity`, ``(H, W)``,
            ``(H, W, C)``, ``(N, H, W)`` or ``(N, H, W, C)``. One mask is used for every image
            of a batch; a mask of another size with the image's aspect ratio is resized
            (nearest).

    Returns:
        ``(image uint8 (N, H, W, 3), mask uint8 (N, H, W, 1) with 255 = hole, batched)``.
    """
    image = _image_uint8(image)
    batched = image.ndim == 4
    if image.ndim not in (3, 4) or image.shape[-1] != 3:
        raise ValueError(
            "image must be RGB, (H, W, 3) or (N, H, W, 3). Received: "
            f"shape={tuple(image.shape)}"
        )
    images = image if batched else image[None]
    n, h, w = images.shape[:3]
    mask = np.asarray(mask)
    if mask.dtype.kind not in "biuf":
        raise ValueError(f"mask must be bool, integer or float. Received: dtype={mask.dtype}")
    # One mask (H, W[, C]) for every image, or one per image (N, H, W[, C]).
    per_image = batched and (mask.ndim == 4 or (mask.ndim == 3 and mask.shape[0] == n
                                                and mask.shape[-1] not in (1, 2, 3, 4)))
    if batched and mask.ndim == 3 and mask.shape[0] == n and mask.shape[1:] == (h, w):
        per_image = True
    masks = list(mask) if per_image else [mask] * n
    holes = []
    for m in masks:
        hole = hole_from_user_mask(m)[..., 0] > 0.5
        check_mask_size(hole.shape, (h, w))
        holes.append(resize_hole(hole, h, w))
    hole = np.stack(holes)
    return images, (hole.astype(np.uint8) * 255)[..., None], batched


def encode_png(array: np.ndarray) -> bytes:
    """uint8 ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` -> PNG bytes (lossless)."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """Image file bytes -> uint8 RGB ``(H, W, 3)``."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


class _Retrying:
    """Retries ``UNAVAILABLE`` with exponential backoff; records the attempts made."""

    def __init__(self, target: str, timeout: float, retries: int, backoff: float):
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds. Received: timeout={timeout}")
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0. Received: retries={retries!r}")
        if backoff < 0:
            raise ValueError(f"backoff must be >= 0 seconds. Received: backoff={backoff}")
        self.target = target
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.last_attempts = 0
        self._sleep = time.sleep  # replaced in tests to observe the backoff schedule

    def _retry(self, attempt_fn):
        attempt = 0
        while True:
            attempt += 1
            self.last_attempts = attempt
            try:
                return attempt_fn()
            except ServingError as e:
                if e.code != "UNAVAILABLE" or attempt > self.retries:
                    raise ServingError(e.code, e.details, attempts=attempt, target=self.target,
                                       http_status=e.http_status) from None
                self._sleep(self.backoff * 2 ** (attempt - 1))


# --------------------------------------------------------------------------------------------
# gRPC
# --------------------------------------------------------------------------------------------


class GrpcClient(_Retrying):
    """gRPC client for a model exported with the tfinpaint signatures.

    Args:
        target: ``"host:port"`` of TF Serving's gRPC API (default port 8500).
        model_name: the model's name (its folder under the model base).
        version: request this integer version; ``None`` (default) lets the server pick the
            latest.
        timeout: deadline of each attempt, in seconds. Defaults to ``30.0``.
        retries: extra attempts after an ``UNAVAILABLE`` answer. Defaults to ``3``.
        backoff: sleep before retry ``k`` (1-based) is ``backoff * 2 ** (k - 1)`` seconds.
            Defaults to ``0.5``.
        max_message_bytes: largest message sent or received. Defaults to 256 MiB.
    """

    def __init__(self, target: str, model_name: str, version: int | None = None,
                 timeout: float = 30.0, retries: int = 3, backoff: float = 0.5, *,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES):
        super().__init__(target, timeout, retries, backoff)
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        if not model_name:
            raise ValueError(f"model_name is required. Received: model_name={model_name!r}")
        self.model_name = model_name
        self.version = None if version is None else int(version)
        reconnect_ms = max(100, int(backoff * 1000))
        self._channel = grpc.insecure_channel(target, options=[
            ("grpc.max_receive_message_length", int(max_message_bytes)),
            ("grpc.max_send_message_length", int(max_message_bytes)),
            # Reconnect as fast as the retry schedule, so a retry reaches a server that came up.
            ("grpc.initial_reconnect_backoff_ms", reconnect_ms),
            ("grpc.min_reconnect_backoff_ms", reconnect_ms),
            ("grpc.max_reconnect_backoff_ms", max(reconnect_ms, 4 * reconnect_ms)),
        ])
        self._predict = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def __repr__(self) -> str:
        return (f"GrpcClient(target={self.target!r}, model_name={self.model_name!r}, "
                f"version={self.version})")

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> GrpcClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _spec(self, spec, signature_name: str | None = None) -> None:
        spec.name = self.model_name
        if self.version is not None:
            spec.version.value = self.version
        if signature_name:
            spec.signature_name = signature_name

    def _call(self, method, request):
        def attempt():
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as e:
                raise ServingError(e.code().name, e.details() or str(e)) from None

        return self._retry(attempt)

    def predict_tensors(self, inputs: dict, signature_name: str = DEFAULT_SIGNATURE,
                        output_filter=()) -> dict[str, np.ndarray]:
        """Low level: ``{alias: numpy}`` in, ``{alias: numpy}`` out, for any signature."""
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, signature_name)
        for alias, value in inputs.items():
            request.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
        request.output_filter.extend(output_filter)
        response = self._call(self._predict.Predict, request)
        return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}

    def predict(self, image, mask) -> np.ndarray:
        """Inpaints ``image`` where ``mask`` is set, with the ``serving_default`` signature.

        Args:
            image: uint8 (or float ``[0, 1]``) ``(H, W, 3)`` or ``(N, H, W, 3)``.
            mask: area to fill (see :func:`prepare_request`).

        Returns:
            uint8 ``(H, W, 3)`` (or ``(N, H, W, 3)`` for a batch); known pixels unchanged.
        """
        images, masks, batched = prepare_request(image, mask)
        out = self.predict_tensors({"image": images, "mask": masks}, DEFAULT_SIGNATURE)
        result = out["inpainted"]
        return result if batched else result[0]

    def predict_encoded(self, image_bytes, mask_bytes):
        """The ``encoded`` signature: image and mask files (PNG/JPEG/BMP/GIF) in, PNG out.

        Args:
            image_bytes: one file's bytes, or a list of them (a batch).
            mask_bytes: the matching mask file(s) (the one mask rule).

        Returns:
            PNG bytes (a list of them for a list input).
        """
        single = isinstance(image_bytes, (bytes, bytearray))
        if single != isinstance(mask_bytes, (bytes, bytearray)):
            raise ValueError("image_bytes and mask_bytes must both be bytes or both be lists")
        images = [bytes(image_bytes)] if single else [bytes(b) for b in image_bytes]
        masks = [bytes(mask_bytes)] if single else [bytes(b) for b in mask_bytes]
        out = self.predict_tensors(
            {"image_bytes": np.array(images, dtype=object),
             "mask_bytes": np.array(masks, dtype=object)},
            ENCODED_SIGNATURE,
        )
        # One string output (``inpainted_png_bytes``; any name, so a renamed output still works).
        (png_array,) = out.values()
        pngs = [bytes(b) for b in png_array.reshape(-1)]
        return pngs[0] if single else pngs

    def metadata(self) -> dict:
        """``{"model_spec": ..., "signature_def": {name: SignatureDef as dict}}``."""
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest()
        self._spec(request.model_spec)
        request.metadata_field.append("signature_def")
        response = self._call(self._predict.GetModelMetadata, request)
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(sig_map)
        return {
            "model_spec": json_format.MessageToDict(response.model_spec,
                                                    preserving_proto_field_name=True),
            "signature_def": json_format.MessageToDict(
                sig_map, preserving_proto_field_name=True
            ).get("signature_def", {}),
        }

    def status(self) -> dict:
        """``{"model_version_status": [{"version": "1", "state": "AVAILABLE", ...}]}``."""
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec)
        response = self._call(self._models.GetModelStatus, request)
        return json_format.MessageToDict(response, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)


# --------------------------------------------------------------------------------------------
# REST
# --------------------------------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or (host or "").startswith("127.")


class RestClient(_Retrying):
    """REST client (TF Serving's ``/v1/models`` API) using only the standard library.

    Args:
        base_url: ``"http://host:port"`` (``"host:port"`` is accepted; default port 8501).
        model_name: the model's name.
        version: request this integer version; ``None`` (default) = latest.
        timeout, retries, backoff: as :class:`GrpcClient`; a refused connection or HTTP 503
            counts as ``UNAVAILABLE``.
    """

    def __init__(self, base_url: str, model_name: str, version: int | None = None,
                 timeout: float = 30.0, retries: int = 3, backoff: float = 0.5):
        if "://" not in base_url:
            base_url = "http://" + base_url
        base_url = base_url.rstrip("/")
        super().__init__(base_url, timeout, retries, backoff)
        if not model_name:
            raise ValueError(f"model_name is required. Received: model_name={model_name!r}")
        self.base_url = base_url
        self.model_name = model_name
        self.version = None if version is None else int(version)
        host = urllib.parse.urlsplit(base_url).hostname
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(host) else []
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return (f"RestClient(base_url={self.base_url!r}, model_name={self.model_name!r}, "
                f"version={self.version})")

    def _url(self, suffix: str = "") -> str:
        url = f"{self.base_url}/v1/models/{urllib.parse.quote(self.model_name, safe='')}"
        if self.version is not None:
            url += f"/versions/{self.version}"
        return url + suffix

    def _request(self, url: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else {}

        def attempt():
            request = urllib.request.Request(url, data=data, headers=headers,
                                             method="GET" if data is None else "POST")
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                raw = e.read().decode("utf-8", "replace")
                try:
                    details = json.loads(raw).get("error", raw)
                except (json.JSONDecodeError, AttributeError):
                    details = raw or e.reason
                code = _CODE_BY_HTTP.get(e.code, "UNKNOWN")
                raise ServingError(code, str(details), http_status=e.code) from None
            except urllib.error.URLError as e:
                if isinstance(e.reason, TimeoutError):
                    raise ServingError("DEADLINE_EXCEEDED",
                                       f"no answer within {self.timeout} s") from None
                raise ServingError("UNAVAILABLE", f"cannot connect: {e.reason}") from None
            except TimeoutError:
                raise ServingError("DEADLINE_EXCEEDED",
                                   f"no answer within {self.timeout} s") from None
            except (ConnectionError, http.client.HTTPException) as e:
                raise ServingError("UNAVAILABLE", f"connection failed: {e}") from None

        return self._retry(attempt)

    def predict_json(self, body: dict) -> dict:
        """Low level: posts ``body`` (TF Serving's predict JSON) and returns the JSON answer."""
        return self._request(self._url(":predict"), body)

    def predict_encoded(self, image_bytes, mask_bytes):
        """The ``encoded`` signature with ``{"b64": ...}`` values; returns PNG bytes (or list)."""
        single = isinstance(image_bytes, (bytes, bytearray))
        images = [image_bytes] if single else list(image_bytes)
        masks = [mask_bytes] if single else list(mask_bytes)
        if len(images) != len(masks):
            raise ValueError(f"{len(images)} images but {len(masks)} masks")
        b64 = lambda b: {"b64": base64.b64encode(bytes(b)).decode("ascii")}  # noqa: E731
        body = {
            "signature_name": ENCODED_SIGNATURE,
            "instances": [{"image_bytes": b64(i), "mask_bytes": b64(m)}
                          for i, m in zip(images, masks)],
        }
        predictions = self.predict_json(body)["predictions"]
        pngs = []
        for item in predictions:
            if isinstance(item, dict) and "b64" not in item and len(item) == 1:
                (item,) = item.values()  # a row naming its one output
            if isinstance(item, dict) and "b64" in item:
                pngs.append(base64.b64decode(item["b64"]))
            elif isinstance(item, str):
                pngs.append(item.encode("utf-8"))
            else:
                raise ServingError("INTERNAL", f"unexpected prediction: {str(item)[:200]}")
        return pngs[0] if single else pngs

    def predict(self, image, mask) -> np.ndarray:
        """Same as :meth:`GrpcClient.predict`, sent as PNG files through ``encoded``."""
        images, masks, batched = prepare_request(image, mask)
        pngs = self.predict_encoded([encode_png(i) for i in images],
                                    [encode_png(m) for m in masks])
        result = np.stack([decode_png(p) for p in pngs])
        return result if batched else result[0]

    def status(self) -> dict:
        """``GET /v1/models/<name>[/versions/<v>]``."""
        return self._request(self._url())

    def metadata(self) -> dict:
        """``GET /v1/models/<name>[/versions/<v>]/metadata``."""
        return self._request(self._url("/metadata"))
