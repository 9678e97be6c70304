"""A local model server speaking TensorFlow Serving's gRPC and REST APIs.

It serves the folders written by :func:`tfinpaint.export.saved_model.export_saved_model`
(``<model_base>/<name>/<version>/``) with the same wire protocol as TF Serving, so the same
clients (:mod:`tfinpaint.export.serving`, ``tensorflow-serving-api`` stubs, ``curl``) work
against both. Use it for development, tests and small deployments; use TF Serving (C++) in
production.

gRPC (``tensorflow.serving``):

- ``PredictionService/Predict``: ``model_spec`` (``name``, ``version`` or ``version_label``,
  ``signature_name``, default ``serving_default``), named input ``TensorProto`` s, optional
  ``output_filter``. The response echoes the resolved ``model_spec`` (with its version).
- ``PredictionService/GetModelMetadata``: ``metadata_field`` must be ``["signature_def"]``; the
  response packs a ``SignatureDefMap`` (every SignatureDef of the ``serve`` meta graph, read from
  ``saved_model.pb`` as TF Serving does) into ``metadata["signature_def"]`` (a ``google.protobuf
  .Any``).
- ``ModelService/GetModelStatus``: the state of one version, or of every version when the
  request names none (``AVAILABLE``; ``END`` with the error for a version that failed to load).
- ``Classify``, ``Regress``, ``MultiInference``, ``HandleReloadConfigRequest``:
  ``UNIMPLEMENTED``.

REST (TF Serving's REST API, https://www.tensorflow.org/tfx/serving/api_rest):

- ``POST /v1/models/<name>[/versions/<v>|/labels/<label>]:predict`` with a JSON body holding
  ``signature_name`` (optional) and either ``instances`` (row format: a list with one JSON object
  per batch item naming every input, or bare values for a one-input signature) or ``inputs``
  (columnar format: an object mapping each input to its whole batch). Values of ``DT_STRING``
  inputs may be ``{"b64": "..."}`` (how binary data such as ``image_bytes`` travels). The answer
  is ``{"predictions": [...]}`` (row) or ``{"outputs": ...}`` (columnar); a signature with one
  output omits its name, as TF Serving does. String outputs whose name ends in ``_bytes`` are
  written as ``{"b64": ...}``; TF Serving writes other string outputs as raw JSON strings, which
  is only valid JSON for UTF-8 text, so this server writes those that are not valid UTF-8 (such
  as PNG files) as ``{"b64": ...}`` too.
- ``GET /v1/models/<name>[/versions/<v>|/labels/<label>]``: the model status
  (``{"model_version_status": [...]}``).
- ``GET /v1/models/<name>[/versions/<v>|/labels/<label>]/metadata``: ``{"model_spec": ...,
  "metadata": {"signature_def": {"signature_def": {...}}}}``.
- Errors are ``{"error": "..."}`` with the HTTP status TF Serving maps each gRPC code to
  (INVALID_ARGUMENT 400, NOT_FOUND 404, UNIMPLEMENTED 501, UNAVAILABLE 503, ...).

Behaviour:

- **Versions.** Integer folders holding ``saved_model.pb`` are versions (hidden folders such as
  the exporter's ``.tmp-*`` are ignored). ``version_policy="all"`` (default) loads every version
  and serves the latest when a request names none; ``"latest"`` (TF Serving's default policy)
  loads only the newest. ``labels`` maps version labels (``{"stable": 1}``) per model.
  ``poll_seconds`` rescans the base folder in the background: new versions (and new models)
  are loaded and, when their load succeeded, start serving; removed versions are unloaded.
- **Loading** uses ``tf.saved_model.load`` and calls ``loaded.signatures[key]``; the
  ``assets.extra/tf_serving_warmup_requests`` records are replayed at load, as TF Serving does,
  and a version whose load or warmup fails is not served (its status says why).
- **Validation.** Every request is checked against the SignatureDef before the graph runs:
  unknown signature, missing or unexpected inputs, dtype, rank and fixed dimensions (such as the
  3 image channels) are answered with ``INVALID_ARGUMENT`` naming the problem. Errors raised
  by the graph itself (``tf.errors.InvalidArgumentError`` from the export's asserts: image/mask
  size mismatch, empty batch, undecodable image bytes) keep their code. Unknown models,
  versions and labels are ``NOT_FOUND``. A bad request never stops the server.
- **Concurrency.** gRPC and REST each run their handlers on a thread pool of ``workers``
  threads (TensorFlow releases the GIL while a graph runs).
- **Limits** (what one request may cost; the server keeps serving whatever is sent). Each
  request is priced in pixels (``batch x H x W``; for the ``encoded`` signature the sizes in the
  files' headers, read before anything is decoded, so a small PNG declaring 30000 x 30000 is
  refused unread) and refused with ``RESOURCE_EXHAUSTED`` above ``max_pixels`` (default
  2048 x 2048; ``--max-pixels``). At most ``max_concurrent`` requests run a model at once
  (default 2; ``--max-concurrent``), up to ``max_queue`` wait (default 64; ``--max-queue``),
  further ones get ``RESOURCE_EXHAUSTED``. So the memory requests take is bounded by
  ``max_concurrent`` times the cost of a ``max_pixels`` image. Messages and REST bodies are
  capped at ``max_message_bytes`` (default 64 MiB; ``--max-message-bytes``). Each message
  names the limit and the flag that raises it.
- **Shutdown.** :meth:`ModelServer.stop` stops accepting new requests at once, lets in-flight
  requests finish for up to ``grace`` seconds, then closes. ``tfinpaint serve`` calls it on
  SIGINT / SIGTERM.

Example:
```python
from tfinpaint.export.model_server import ModelServer
with ModelServer("saved_models", grpc_port=0, rest_port=0) as server:   # 0 = any free port
    print(server.grpc_port, server.rest_port, server.served())
```
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import http.server
import json
import logging
import os
import pathlib
import re
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
)

__all__ = [
    "ModelServer",
    "RequestError",
    "Servable",
    "HTTP_STATUS",
    "DEFAULT_SIGNATURE",
    "scan_model_base",
    "read_signature_defs",
]

logger = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"
SERVE_TAG = "serve"
WARMUP_PATH = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_WARMUP_RECORDS = 1000  # TF Serving's limit on warmup records per version
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PIXELS = 2048 * 2048  # per request: batch x H x W, decoded files included
DEFAULT_MAX_CONCURRENT = 2  # requests running a model at once; the others wait in a queue
DEFAULT_MAX_QUEUE = 64  # requests allowed to wait; beyond, RESOURCE_EXHAUSTED
VERSION_POLICIES = ("all", "latest")
_State = get_model_status_pb2.ModelVersionStatus.State

# gRPC code -> HTTP status, as TF Serving's REST handler maps them (http_rest_api_util).
HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
_CODE_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
_MAX_ERROR_CHARS = 2000


class RequestError(Exception):
    """A request the server answers with a gRPC status ``code`` (and the mapped HTTP status)."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)


def _invalid(message: str) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _tf_error(e: tf.errors.OpError) -> RequestError:
    """Maps a TensorFlow error raised by the graph to its gRPC code (same numbering)."""
    code = _CODE_BY_NUMBER.get(int(e.error_code), grpc.StatusCode.INTERNAL)
    return RequestError(code, _clean_tf_message(e.message or str(e)))


def _clean_tf_message(message: str) -> str:
    """Keeps the op's own message (e.g. the assertion text), drops TF's node and stack trace."""
    message = message.strip()
    if "assertion failed:" in message:
        message = message[message.index("assertion failed:"):]
    elif message.startswith("Graph execution error"):
        lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
        lines = [ln for ln in lines if not ln.startswith(("[[", "<stack", "Detected at", "File "))]
        message = lines[-1] if lines else message
    message = message.split("\n\t [[", 1)[0].split("\n [[", 1)[0].strip()
    return message[:_MAX_ERROR_CHARS]


# --------------------------------------------------------------------------------------------
# Model folders
# --------------------------------------------------------------------------------------------


def _version_dirs(model_dir: pathlib.Path) -> dict[int, pathlib.Path]:
    versions = {}
    if not model_dir.is_dir():
        return versions
    for p in model_dir.iterdir():
        if p.name.isdigit() and int(p.name) > 0 and (p / "saved_model.pb").is_file():
            versions[int(p.name)] = p
    return versions


def scan_model_base(model_base: os.PathLike) -> dict[str, dict[int, pathlib.Path]]:
    """Finds the servable versions under ``model_base``.

    ``model_base`` is either a base folder holding one folder per model
    (``saved_models/<name>/<version>/saved_model.pb``) or a single model's folder
    (``saved_models/<name>/``, served under its folder name). Hidden folders (``.tmp-*`` written
    by the exporter while a version is being saved) and non-integer folders are ignored.

    Returns:
        ``{name: {version: path}}``, only names with at least one version.
    """
    base = pathlib.Path(model_base)
    if not base.is_dir():
        raise FileNotFoundError(f"Model base folder not found: {base}")
    own = _version_dirs(base)
    if own:
        return {base.resolve().name: own}
    models = {}
    for p in sorted(base.iterdir()):
        if p.is_dir() and not p.name.startswith("."):
            versions = _version_dirs(p)
            if versions:
                models[p.name] = versions
    return models


def read_signature_defs(export_dir: os.PathLike) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The SignatureDefs of the ``serve`` meta graph, read from ``saved_model.pb``.

    This is what TF Serving reports in ``GetModelMetadata`` and checks requests against
    (it includes ``__saved_model_init_op``, which is not callable).
    """
    path = pathlib.Path(export_dir) / "saved_model.pb"
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString(path.read_bytes())
    for meta in saved.meta_graphs:
        if SERVE_TAG in meta.meta_info_def.tags:
            return dict(meta.signature_def)
    raise ValueError(f"{path} has no meta graph tagged {SERVE_TAG!r}")


def _shape_text(shape_proto) -> str:
    if shape_proto.unknown_rank:
        return "[?]"
    return "[" + ", ".join("?" if d.size < 0 else str(d.size) for d in shape_proto.dim) + "]"


def _dtype_name(dtype_enum: int) -> str:
    return tf.dtypes.as_dtype(dtype_enum).name


def _array_dtype_matches(array: np.ndarray, dtype_enum: int) -> bool:
    want = tf.dtypes.as_dtype(dtype_enum)
    if want == tf.string:
        return array.dtype == object or array.dtype.kind == "S"
    return array.dtype == want.as_numpy_dtype


def _array_dtype_name(array: np.ndarray) -> str:
    if array.dtype == object or array.dtype.kind == "S":
        return "string"
    try:
        return tf.dtypes.as_dtype(array.dtype).name
    except TypeError:
        return str(array.dtype)


# --------------------------------------------------------------------------------------------
# One loaded version
# --------------------------------------------------------------------------------------------


class Servable:
    """One loaded version of a model: its SignatureDefs and callable signatures.

    Args:
        name: model name.
        version: integer version.
        path: the version folder (``saved_model.pb``, ``variables/``, ``assets.extra/``).
        warmup: replay ``assets.extra/tf_serving_warmup_requests`` after loading.
    """

    def __init__(self, name: str, version: int, path: os.PathLike, warmup: bool = True):
        self.name = name
        self.version = int(version)
        self.path = pathlib.Path(path)
        self.signature_defs = read_signature_defs(self.path)
        self.loaded = tf.saved_model.load(str(self.path), tags=[SERVE_TAG])
        self.functions = dict(self.loaded.signatures)
        self.warmup_count = self._warmup() if warmup else 0

    def __repr__(self) -> str:
        return f"Servable(name={self.name!r}, version={self.version}, path='{self.path}')"

    def _warmup(self) -> int:
        """Runs the recorded warmup requests (a PredictionLog TFRecord), as TF Serving does."""
        path = self.path / WARMUP_PATH
        if not path.is_file():
            return 0
        count = 0
        for record in tf.data.TFRecordDataset(str(path)).take(MAX_WARMUP_RECORDS):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if log.WhichOneof("log_type") != "predict_log":
                continue  # classify / regress warmups do not apply to this server
            request = log.predict_log.request
            arrays = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            self.run(request.model_spec.signature_name or DEFAULT_SIGNATURE, arrays)
            count += 1
        return count

    def signature_def(self, signature_name: str) -> meta_graph_pb2.SignatureDef:
        """The SignatureDef of a callable signature, or ``INVALID_ARGUMENT`` naming them."""
        key = signature_name or DEFAULT_SIGNATURE
        if key not in self.functions or key not in self.signature_defs:
            raise _invalid(
                f"Serving signature key {key!r} not found in model {self.name!r} version "
                f"{self.version}. Available signatures: {sorted(self.functions)}"
            )
        return self.signature_defs[key]

    def _check_inputs(self, key: str, sig, arrays: Mapping[str, np.ndarray]) -> None:
        expected, sent = set(sig.inputs), set(arrays)
        if expected != sent:
            raise _invalid(
                f"Input names do not match signature {key!r}: expected {sorted(expected)}, "
                f"received {sorted(sent)}. Missing but required: {sorted(expected - sent)}. "
                f"Sent extra: {sorted(sent - expected)}."
            )
        for alias in sorted(expected):
            info, array = sig.inputs[alias], arrays[alias]
            if not _array_dtype_matches(array, info.dtype):
                raise _invalid(
                    f"Input {alias!r} of signature {key!r} must be {_dtype_name(info.dtype)}. "
                    f"Received: dtype={_array_dtype_name(array)}"
                )
            shape = info.tensor_shape
            if shape.unknown_rank:
                continue
            want = [d.size for d in shape.dim]
            if array.ndim != len(want):
                raise _invalid(
                    f"Input {alias!r} of signature {key!r} must have rank {len(want)} "
                    f"(shape {_shape_text(shape)}). Received: shape={list(array.shape)}"
                )
            for axis, (size, got) in enumerate(zip(want, array.shape)):
                if size >= 0 and size != got:
                    what = "channel(s)" if axis == len(want) - 1 and len(want) >= 3 else "size"
                    raise _invalid(
                        f"Input {alias!r} of signature {key!r} must have {size} {what} on axis "
                        f"{axis} (shape {_shape_text(shape)}). Received: shape="
                        f"{list(array.shape)}"
                    )

    def run(
        self,
        signature_name: str,
        arrays: Mapping[str, np.ndarray],
        output_filter: Iterable[str] = (),
    ) -> dict[str, np.ndarray]:
        """Validates ``arrays`` against the SignatureDef, runs the signature, returns numpy.

        Raises:
            RequestError: ``INVALID_ARGUMENT`` for a request that does not match the signature,
                or the code of the ``tf.errors.OpError`` the graph raised.
        """
        key = signature_name or DEFAULT_SIGNATURE
        sig = self.signature_def(key)
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        self._check_inputs(key, sig, arrays)
        output_filter = list(output_filter)
        unknown = sorted(set(output_filter) - set(sig.outputs))
        if unknown:
            raise _invalid(
                f"output tensor alias not found in signature {key!r}: {unknown}. Outputs: "
                f"{sorted(sig.outputs)}"
            )
        fn = self.functions[key]
        try:
            tensors = {k: tf.constant(v, dtype=sig.inputs[k].dtype) for k, v in arrays.items()}
            result = fn(**tensors)
        except tf.errors.OpError as e:
            raise _tf_error(e) from None
        except (TypeError, ValueError) as e:  # conversions the SignatureDef check missed
            raise _invalid(f"Bad input for signature {key!r}: {e}") from None
        names = output_filter or sorted(result)
        return {k: result[k].numpy() for k in names}


# --------------------------------------------------------------------------------------------
# JSON <-> numpy (REST)
# --------------------------------------------------------------------------------------------


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _json_strings(value, alias: str):
    if isinstance(value, list):
        return [_json_strings(v, alias) for v in value]
    if _is_b64(value):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(f"Input {alias!r}: unable to base64 decode the 'b64' value") from None
    if isinstance(value, str):
        return value.encode("utf-8")
    raise _invalid(
        f"Input {alias!r} is DT_STRING: each value must be a string or {{\"b64\": ...}}. "
        f"Received: {json.dumps(value)[:200]}"
    )


def json_to_array(value, dtype_enum: int, alias: str) -> np.ndarray:
    """Converts a JSON value (nested lists) to a numpy array of the signature's dtype.

    Follows TF Serving's rules: integer tensors take JSON integers only, string tensors take
    strings or ``{"b64": ...}``, and every list at one level must have the same length.
    """
    dtype = tf.dtypes.as_dtype(dtype_enum)
    if dtype == tf.string:
        array = np.array(_json_strings(value, alias), dtype=object)
        if not all(isinstance(item, bytes) for item in array.flat):
            raise _invalid(f"Input {alias!r}: lists of different lengths (not a tensor)")
        return array
    try:
        array = np.array(value)
    except ValueError:
        raise _invalid(f"Input {alias!r}: lists of different lengths (not a tensor)") from None
    if array.size == 0:
        return array.astype(dtype.as_numpy_dtype)
    kind = array.dtype.kind
    if kind not in "biuf":
        raise _invalid(
            f"Input {alias!r} must hold {dtype.name} numbers; received JSON values that are not "
            f"numbers (or lists of different lengths)."
        )
    if dtype.is_bool:
        if kind != "b":
            raise _invalid(f"Input {alias!r} is bool: values must be true / false.")
    elif dtype.is_integer:
        if kind not in "iu":
            raise _invalid(
                f"Input {alias!r} is {dtype.name}: values must be JSON integers. Received "
                f"dtype={'bool' if kind == 'b' else 'float'}"
            )
        info = np.iinfo(dtype.as_numpy_dtype)
        lo, hi = int(array.min()), int(array.max())
        if lo < info.min or hi > info.max:
            raise _invalid(
                f"Input {alias!r} is {dtype.name}: values must lie in [{info.min}, {info.max}]. "
                f"Received: min={lo}, max={hi}"
            )
    elif dtype.is_floating or dtype.is_complex:
        if kind == "b":
            raise _invalid(f"Input {alias!r} is {dtype.name}: values must be numbers.")
    return array.astype(dtype.as_numpy_dtype)


def array_to_json(array: np.ndarray, alias: str):
    """numpy -> JSON value: ``{"b64": ...}`` for ``*_bytes`` and non-UTF-8 strings."""
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind == "S":
        as_b64 = alias.endswith("_bytes")

        def encode(item):
            item = bytes(item)
            if not as_b64:
                try:
                    return item.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            return {"b64": base64.b64encode(item).decode("ascii")}

        if array.ndim == 0:
            return encode(array.item())
        return np.vectorize(encode, otypes=[object])(array).tolist()
    return array.tolist()


# --------------------------------------------------------------------------------------------
# Request cost (pixels)
# --------------------------------------------------------------------------------------------


def _encoded_size(data: bytes, alias: str, index: int) -> tuple[int, int]:
    """``(H, W)`` from an image file's header, without decoding its pixels (a 1 MB PNG can hold
    a 30000 x 30000 image: the header is checked before TensorFlow decodes anything)."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise _invalid(
            f"Input {alias!r} item {index} is not a readable image file (PNG, JPEG, BMP, GIF): "
            f"{e}"
        ) from None
    except Image.DecompressionBombError:
        return 10**12, 1  # larger than any limit: rejected by the caller with its message
    return height, width


def request_pixels(shapes: Mapping[str, tuple], strings: Mapping[str, np.ndarray]) -> int:
    """What a request costs, in pixels: the largest of its inputs.

    A numeric input of rank >= 3 counts ``batch x H x W`` (NHWC); a string input counts the sum
    of ``H x W`` over its items, read from each file's header.
    """
    cost = 0
    for shape in shapes.values():
        if len(shape) >= 3:
            cost = max(cost, int(np.prod([max(int(d), 0) for d in shape[:3]], dtype=np.int64)))
    for alias, array in strings.items():
        total = 0
        for index, item in enumerate(np.asarray(array, dtype=object).reshape(-1)):
            h, w = _encoded_size(bytes(item), alias, index)
            total += h * w
        cost = max(cost, total)
    return cost


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class ModelServer:
    """Serves ``<model_base>/<name>/<version>/`` SavedModels over TF Serving's gRPC and REST APIs.

    Args:
        model_base: a folder of models (``saved_models/``) or one model's folder.
        host: address to bind. Defaults to ``"127.0.0.1"`` (loopback only); ``"0.0.0.0"``
            accepts connections from other machines.
        grpc_port: gRPC port; ``0`` picks a free one (see :attr:`grpc_port` after
            :meth:`start`); ``None`` disables gRPC. Defaults to ``8500`` (TF Serving's).
        rest_port: REST port, same rules. Defaults to ``8501`` (TF Serving's).
        workers: threads per API handling requests concurrently. Defaults to ``8``.
        poll_seconds: rescan ``model_base`` every this many seconds for new or removed
            versions; ``None`` or ``0`` (default) loads once.
        version_policy: ``"all"`` (default) serves every version, ``"latest"`` only the newest.
        labels: ``{model: {label: version}}`` for ``version_label`` requests.
        model_names: serve only these models (default: every model found).
        warmup: replay each version's warmup requests at load. Defaults to ``True``.
        max_message_bytes: largest gRPC message / REST body accepted. Defaults to 64 MiB
            (CLI ``--max-message-bytes``).
        max_pixels: largest request in pixels (``batch x H x W``; for file inputs the sizes in
            their headers, checked before decoding). Larger requests are answered
            ``RESOURCE_EXHAUSTED`` naming the limit. Defaults to 2048 x 2048 (CLI
            ``--max-pixels``; 0 = no limit).
        max_concurrent: requests running a model at the same time; the others wait. Together
            with ``max_pixels`` this bounds the memory requests can take. Defaults to 2 (CLI
            ``--max-concurrent``).
        max_queue: requests allowed to wait for a slot; one more is answered
            ``RESOURCE_EXHAUSTED``. Defaults to 64 (CLI ``--max-queue``).
    """

    def __init__(
        self,
        model_base: os.PathLike,
        *,
        host: str = "127.0.0.1",
        grpc_port: int | None = 8500,
        rest_port: int | None = 8501,
        workers: int = 8,
        poll_seconds: float | None = None,
        version_policy: str = "all",
        labels: Mapping[str, Mapping[str, int]] | None = None,
        model_names: Iterable[str] | None = None,
        warmup: bool = True,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        max_queue: int = DEFAULT_MAX_QUEUE,
    ):
        if grpc_port is None and rest_port is None:
            raise ValueError("At least one of grpc_port and rest_port must be set (not None).")
        for name, port in (("grpc_port", grpc_port), ("rest_port", rest_port)):
            if port is not None and not (isinstance(port, int) and 0 <= port <= 65535):
                raise ValueError(f"{name} must be an int in [0, 65535]. Received: {name}={port!r}")
        for name, value, low in (("workers", workers, 1), ("max_pixels", max_pixels, 0),
                                 ("max_concurrent", max_concurrent, 1),
                                 ("max_queue", max_queue, 0),
                                 ("max_message_bytes", max_message_bytes, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}. Received: {name}={value!r}")
        if version_policy not in VERSION_POLICIES:
            raise ValueError(
                f"version_policy must be one of {VERSION_POLICIES}. Received: "
                f"version_policy={version_policy!r}"
            )
        if poll_seconds is not None and poll_seconds < 0:
            raise ValueError(f"poll_seconds must be >= 0. Received: poll_seconds={poll_seconds}")
        self.model_base = pathlib.Path(model_base)
        if not self.model_base.is_dir():
            raise FileNotFoundError(f"Model base folder not found: {self.model_base}")
        self.host = host
        self.workers = workers
        self.poll_seconds = poll_seconds or None
        self.version_policy = version_policy
        self.labels = {m: {str(k): int(v) for k, v in d.items()} for m, d in (labels or {}).items()}
        self.model_names = set(model_names) if model_names else None
        self.warmup = warmup
        self.max_message_bytes = int(max_message_bytes)
        self.max_pixels = int(max_pixels)
        self.max_concurrent = int(max_concurrent)
        self.max_queue = int(max_queue)
        self._slots = threading.Semaphore(self.max_concurrent)
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self._requested_ports = (grpc_port, rest_port)
        self.grpc_port: int | None = None
        self.rest_port: int | None = None

        self._models: dict[str, dict[int, Servable]] = {}
        self._failed: dict[tuple[str, int], tuple[pathlib.Path, str]] = {}
        self._models_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._in_flight = 0
        self._in_flight_cond = threading.Condition()
        self._state_lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._stop_event = threading.Event()
        self._grpc_server = None
        self._rest_server = None
        self._rest_pool = None
        self._threads: list[threading.Thread] = []

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> ModelServer:
        """Loads the models, binds the ports and starts serving; returns ``self``.

        Raises:
            FileNotFoundError: ``model_base`` holds no servable version and polling is off.
            OSError: a port cannot be bound.
        """
        with self._state_lock:
            if self._started:
                raise RuntimeError("ModelServer.start() was already called.")
            self._started = True
        self.reload()
        if not self._models and not self.poll_seconds:
            with self._models_lock:
                failed_loads = list(self._failed.items())
            detail = "; ".join(f"{n}/{v}: {err}" for (n, v), (_, err) in failed_loads)
            failed = f". Failed loads: {detail}" if detail else ""
            raise FileNotFoundError(
                f"No servable model under {self.model_base} (expected "
                f"<name>/<version>/saved_model.pb){failed}"
            )
        grpc_port, rest_port = self._requested_ports
        try:
            if grpc_port is not None:
                self._start_grpc(grpc_port)
            if rest_port is not None:
                self._start_rest(rest_port)
        except BaseException:
            self.stop(grace=0)
            raise
        if self.poll_seconds:
            t = threading.Thread(target=self._poll_loop, name="model-poller", daemon=True)
            t.start()
            self._threads.append(t)
        logger.info("Serving %s (gRPC %s, REST %s)", self.served(), self.grpc_port,
                    self.rest_port)
        return self

    def _start_grpc(self, port: int) -> None:
        options = [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="grpc"),
            options=options,
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _PredictionServicer(self), server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(_ModelServicer(self), server)
        try:
            bound = server.add_insecure_port(f"{self.host}:{port}")
        except RuntimeError as e:
            raise OSError(f"Cannot bind the gRPC port {self.host}:{port}: {e}") from None
        if not bound:
            raise OSError(f"Cannot bind the gRPC port {self.host}:{port} (in use?)")
        server.start()
        self._grpc_server = server
        self.grpc_port = bound

    def _start_rest(self, port: int) -> None:
        self._rest_pool = futures.ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="rest"
        )
        try:
            server = _RestHTTPServer((self.host, port), _RestHandler, self)
        except OSError as e:
            raise OSError(f"Cannot bind the REST port {self.host}:{port}: {e}") from None
        self._rest_server = server
        self.rest_port = server.server_address[1]
        t = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="rest-accept",
            daemon=True,
        )
        t.start()
        self._threads.append(t)

    def stop(self, grace: float | None = 5.0) -> int:
        """Stops accepting requests at once, waits up to ``grace`` s for in-flight ones, closes.

        Returns:
            The number of requests that were in flight when ``stop`` was called.
        """
        with self._state_lock:
            if self._stopped:
                return 0
            self._stopped = True
        grace = 0.0 if grace is None else float(grace)
        deadline = time.monotonic() + grace
        in_flight = self.in_flight
        self._stop_event.set()
        grpc_done = self._grpc_server.stop(grace) if self._grpc_server else None
        if self._rest_server is not None:
            self._rest_server.shutdown()  # the accept loop ends: no new connections
            self._rest_server.server_close()
        with self._in_flight_cond:
            while self._in_flight > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    logger.warning("Stopping with %d request(s) still running", self._in_flight)
                    break
                self._in_flight_cond.wait(remaining)
        if grpc_done is not None:
            grpc_done.wait(max(0.0, deadline - time.monotonic()) + 1.0)
        if self._rest_pool is not None:
            self._rest_pool.shutdown(wait=False, cancel_futures=True)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=2.0)
        logger.info("Model server stopped")
        return in_flight

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until :meth:`stop` is called (or ``timeout``); returns whether it was."""
        return self._stop_event.wait(timeout)

    @property
    def in_flight(self) -> int:
        """Requests being handled right now (both APIs)."""
        with self._in_flight_cond:
            return self._in_flight

    @contextlib.contextmanager
    def _track(self):
        with self._in_flight_cond:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._in_flight_cond:
                self._in_flight -= 1
                self._in_flight_cond.notify_all()

    # ---- model loading ---------------------------------------------------------------------

    def served(self) -> dict[str, list[int]]:
        """``{name: [versions]}`` currently served."""
        models = self._models
        return {name: sorted(versions) for name, versions in sorted(models.items())}

    def reload(self) -> dict[str, list[int]]:
        """Rescans ``model_base`` once: loads new versions, unloads removed ones.

        A version that fails to load is not served and not retried until its folder changes;
        :meth:`status` reports it with state ``END`` and the error.

        Returns:
            :meth:`served` after the scan.
        """
        with self._reload_lock:
            try:
                found = scan_model_base(self.model_base)
            except FileNotFoundError:
                logger.warning("Model base %s disappeared; keeping the loaded models",
                               self.model_base)
                return self.served()
            if self.model_names is not None:
                found = {n: v for n, v in found.items() if n in self.model_names}
            current = self._models
            updated: dict[str, dict[int, Servable]] = {}
            for name, versions in found.items():
                wanted = sorted(versions)
                if self.version_policy == "latest":
                    wanted = wanted[-1:]
                kept = {}
                for version in wanted:
                    path = versions[version]
                    servable = current.get(name, {}).get(version)
                    if servable is not None and servable.path == path:
                        kept[version] = servable
                        continue
                    failed = self._failed.get((name, version))
                    if failed is not None and failed[0] == path:
                        continue
                    servable = self._load(name, version, path)
                    if servable is not None:
                        kept[version] = servable
                if self.version_policy == "latest" and not kept and name in current:
                    # The newest version failed to load: keep serving what was served.
                    kept = dict(current[name])
                if kept:
                    updated[name] = kept
            for name, versions in current.items():
                for version in versions:
                    if version not in updated.get(name, {}):
                        logger.info("Unloading %s version %d", name, version)
            with self._models_lock:
                self._failed = {
                    k: v for k, v in self._failed.items() if k[1] in found.get(k[0], {})
                }
                self._models = updated
            return self.served()

    def _load(self, name: str, version: int, path: pathlib.Path) -> Servable | None:
        start = time.monotonic()
        try:
            servable = Servable(name, version, path, warmup=self.warmup)
        except Exception as e:  # noqa: BLE001 - any load failure must not stop the server
            message = f"{type(e).__name__}: {e}"[:_MAX_ERROR_CHARS]
            logger.error("Failed to load %s version %d from %s: %s", name, version, path, message)
            with self._models_lock:
                self._failed[(name, version)] = (path, message)
            return None
        logger.info("Loaded %s version %d from %s in %.1f s (%d warmup requests)", name, version,
                    path, time.monotonic() - start, servable.warmup_count)
        return servable

    def _poll_loop(self) -> None:
        while not self._stop_event.wait(self.poll_seconds):
            try:
                self.reload()
            except Exception:  # noqa: BLE001 - keep polling
                logger.exception("Polling %s failed", self.model_base)

    # ---- request handling (shared by gRPC and REST) ----------------------------------------

    def check_pixels(self, pixels: int, what: str) -> None:
        """``RESOURCE_EXHAUSTED`` naming the limit when a request exceeds ``max_pixels``."""
        if self.max_pixels and pixels > self.max_pixels:
            logger.warning("Rejected a request of %d pixels (%s): max_pixels=%d", pixels, what,
                           self.max_pixels)
            raise RequestError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Request too large: {pixels} pixels ({what}) exceeds this server's limit of "
                f"max_pixels={self.max_pixels} per request (batch x H x W). Send a smaller or "
                "downscaled image, split the batch, or start the server with a larger "
                "--max-pixels (ModelServer(max_pixels=...)).",
            )

    @contextlib.contextmanager
    def work_slot(self):
        """One of ``max_concurrent`` slots to run a model; waits in a queue of ``max_queue``."""
        if not self._slots.acquire(blocking=False):
            with self._waiting_lock:
                if self._waiting >= self.max_queue:
                    logger.warning("Rejected a request: %d waiting (max_queue=%d)",
                                   self._waiting, self.max_queue)
                    raise RequestError(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"Server busy: {self.max_concurrent} request(s) running and "
                        f"{self._waiting} waiting (max_queue={self.max_queue}). Retry later, or "
                        "start the server with a larger --max-queue / --max-concurrent.",
                    )
                self._waiting += 1
            try:
                self._slots.acquire()
            finally:
                with self._waiting_lock:
                    self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()

    def predict(self, servable: Servable, signature: str, arrays: Mapping[str, np.ndarray],
                output_filter: Iterable[str] = ()) -> dict[str, np.ndarray]:
        """Checks the request's cost, then runs it in a work slot (gRPC and REST)."""
        key = signature or DEFAULT_SIGNATURE
        sig = servable.signature_def(key)
        strings = {k: v for k, v in arrays.items()
                   if k in sig.inputs and tf.dtypes.as_dtype(sig.inputs[k].dtype) == tf.string}
        shapes = {k: np.shape(v) for k, v in arrays.items() if k not in strings}
        pixels = request_pixels(shapes, strings)
        what = ", ".join(f"{k} {list(v)}" for k, v in shapes.items() if len(v) >= 3) or (
            "decoded sizes of " + ", ".join(sorted(strings)))
        self.check_pixels(pixels, what)
        with self.work_slot():
            return servable.run(key, arrays, output_filter)

    def resolve(self, name: str, version: int | None = None, label: str | None = None) -> Servable:
        """The servable a request addresses: a version, a label, or the latest version."""
        models = self._models
        if not name:
            raise _invalid("model_spec.name is required")
        versions = models.get(name)
        if not versions:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: model {name!r} is not served (serving: "
                f"{sorted(models) or 'nothing'})",
            )
        if label:
            try:
                version = self.labels[name][label]
            except KeyError:
                raise RequestError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Version label {label!r} not found for model {name!r} (labels: "
                    f"{sorted(self.labels.get(name, {}))})",
                ) from None
        if version is None:
            return versions[max(versions)]
        servable = versions.get(int(version))
        if servable is None:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: version {version} of model {name!r} (served "
                f"versions: {sorted(versions)})",
            )
        return servable

    def status(self, name: str, version: int | None = None, label: str | None = None):
        """``GetModelStatusResponse`` for one version, or every version of ``name``."""
        response = get_model_status_pb2.GetModelStatusResponse()
        with self._models_lock:
            models = self._models
            failed = {v: err for (n, v), (_, err) in self._failed.items() if n == name}
        if not name:
            raise _invalid("model_spec.name is required")
        if label:
            version = self.resolve(name, None, label).version
        if name not in models and not failed:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name!r}"
            )
        entries = [(v, None) for v in models.get(name, {})] + list(failed.items())
        if version is not None:
            entries = [e for e in entries if e[0] == int(version)]
            if not entries:
                raise RequestError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Could not find version {version} of model {name!r} (served versions: "
                    f"{sorted(models.get(name, {}))})",
                )
        for v, error in sorted(entries, reverse=True):
            status = response.model_version_status.add()
            status.version = v
            status.status.SetInParent()  # error_code OK, as TF Serving reports it
            if error is None:
                status.state = _State.AVAILABLE
            else:
                status.state = _State.END
                status.status.error_code = grpc.StatusCode.UNKNOWN.value[0]
                status.status.error_message = error
        return response

    def metadata(self, name: str, version: int | None = None, label: str | None = None,
                 fields: Iterable[str] = ("signature_def",)):
        """``GetModelMetadataResponse`` with the ``SignatureDefMap`` packed in an ``Any``."""
        fields = list(fields)
        if not fields:
            raise _invalid("GetModelMetadataRequest must specify at least one metadata_field")
        unsupported = [f for f in fields if f != "signature_def"]
        if unsupported:
            raise _invalid(f"Metadata field {unsupported[0]} is not supported")
        servable = self.resolve(name, version, label)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        for key, sig in servable.signature_defs.items():
            sig_map.signature_def[key].CopyFrom(sig)
        response.metadata["signature_def"].Pack(sig_map)
        return response


# --------------------------------------------------------------------------------------------
# gRPC
# --------------------------------------------------------------------------------------------


def _spec_version(spec) -> tuple[int | None, str | None]:
    choice = spec.WhichOneof("version_choice")
    if choice == "version":
        return int(spec.version.value), None
    if choice == "version_label":
        return None, spec.version_label or None
    return None, None


def _grpc_method(fn):
    """Runs a servicer method, turning ``RequestError`` (and crashes) into gRPC statuses."""

    @functools.wraps(fn)
    def wrapper(self, request, context):
        with self._server._track():
            try:
                return fn(self, request, context)
            except RequestError as e:
                context.abort(e.code, e.message)
            except Exception as e:  # noqa: BLE001 - never let a request kill the server
                logger.exception("%s failed", fn.__name__)
                context.abort(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}")

    return wrapper


def _unimplemented(what: str):
    def method(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      f"{what} is not implemented by the tfinpaint model server")

    return method


class _PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, server: ModelServer):
        self._server = server

    @_grpc_method
    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        spec = request.model_spec
        version, label = _spec_version(spec)
        servable = self._server.resolve(spec.name, version, label)
        signature = spec.signature_name or DEFAULT_SIGNATURE
        # The pixel limit is checked on the protos' shapes before any array is built.
        dims = {a: [d.size for d in p.tensor_shape.dim] for a, p in request.inputs.items()
                if p.dtype != tf.string.as_datatype_enum}
        self._server.check_pixels(
            request_pixels(dims, {}),
            ", ".join(f"{a} {d}" for a, d in dims.items() if len(d) >= 3),
        )
        arrays = {}
        for alias, proto in request.inputs.items():
            try:
                arrays[alias] = tf.make_ndarray(proto)
            except (TypeError, ValueError) as e:
                raise _invalid(f"Input {alias!r} is not a valid TensorProto: {e}") from None
        outputs = self._server.predict(servable, signature, arrays, request.output_filter)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = signature
        for alias, array in outputs.items():
            response.outputs[alias].CopyFrom(tf.make_tensor_proto(array))
        return response

    @_grpc_method
    def GetModelMetadata(self, request, context):  # noqa: N802
        version, label = _spec_version(request.model_spec)
        return self._server.metadata(request.model_spec.name, version, label,
                                     request.metadata_field)

    Classify = _unimplemented("Classify")
    Regress = _unimplemented("Regress")
    MultiInference = _unimplemented("MultiInference")


class _ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, server: ModelServer):
        self._server = server

    @_grpc_method
    def GetModelStatus(self, request, context):  # noqa: N802
        version, label = _spec_version(request.model_spec)
        return self._server.status(request.model_spec.name, version, label)

    HandleReloadConfigRequest = _unimplemented("HandleReloadConfigRequest")


# --------------------------------------------------------------------------------------------
# REST
# --------------------------------------------------------------------------------------------

_REST_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<verb>[a-zA-Z]+)|/(?P<metadata>metadata))?/?$"
)


class _RestHTTPServer(http.server.HTTPServer):
    """HTTP server whose connections are handled on the model server's bounded thread pool."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address, handler, model_server: ModelServer):
        self.model_server = model_server
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        server = self.model_server
        with server._in_flight_cond:
            server._in_flight += 1
        try:
            server._rest_pool.submit(self._handle, request, client_address)
        except RuntimeError:  # the pool is shut down: we are stopping
            self._done()
            self.shutdown_request(request)

    def _done(self):
        server = self.model_server
        with server._in_flight_cond:
            server._in_flight -= 1
            server._in_flight_cond.notify_all()

    def _handle(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._done()


class _RestHandler(http.server.BaseHTTPRequestHandler):
    server_version = "tfinpaint-model-server"
    protocol_version = "HTTP/1.0"  # one request per connection: a worker is never held idle

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        logger.debug("%s %s", self.address_string(), format % args)

    def _send_json(self, status: int, payload) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, error: RequestError) -> None:
        self._send_json(error.http_status, {"error": error.message})

    def _route(self):
        path = self.path.split("?", 1)[0]
        match = _REST_PATH.match(path)
        if not match:
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"Malformed request: {self.command} {path}")
        version = match["version"]
        return match, (int(version) if version is not None else None), match["label"]

    def _dispatch(self, method):
        try:
            method()
        except RequestError as e:
            self._send_error(e)
        except BrokenPipeError:
            pass
        except Exception as e:  # noqa: BLE001 - never let a request kill the server
            logger.exception("REST %s %s failed", self.command, self.path)
            self._send_error(RequestError(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}"))

    def do_GET(self):  # noqa: N802 - BaseHTTPRequestHandler naming
        self._dispatch(self._get)

    def do_POST(self):  # noqa: N802
        self._dispatch(self._post)

    def _get(self):
        server: ModelServer = self.server.model_server
        match, version, label = self._route()
        if match["verb"]:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"Malformed request: GET {self.path} (use POST for :{match['verb']})",
            )
        if match["metadata"]:
            response = server.metadata(match["name"], version, label)
            sig_map = get_model_metadata_pb2.SignatureDefMap()
            response.metadata["signature_def"].Unpack(sig_map)
            payload = {
                "model_spec": json_format.MessageToDict(
                    response.model_spec, preserving_proto_field_name=True,
                    always_print_fields_with_no_presence=True,
                ),
                "metadata": {"signature_def": json_format.MessageToDict(
                    sig_map, preserving_proto_field_name=True
                )},
            }
        else:
            payload = json_format.MessageToDict(
                server.status(match["name"], version, label), preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
        self._send_json(200, payload)

    def _read_json(self):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise _invalid("The request needs a Content-Length header with the JSON body size")
        length = int(length)
        limit = self.server.model_server.max_message_bytes
        if length > limit:
            raise RequestError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Request body of {length} bytes exceeds this server's limit of "
                f"max_message_bytes={limit}; send PNG files through the 'encoded' signature "
                "(smaller), or start the server with a larger --max-message-bytes.",
            )
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _invalid(f"JSON Parse error: {e}") from None
        if not isinstance(body, dict):
            raise _invalid("The request body must be a JSON object")
        return body

    def _post(self):
        server: ModelServer = self.server.model_server
        match, version, label = self._route()
        verb = match["verb"]
        if match["metadata"] or verb is None:
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"Malformed request: POST {self.path}")
        if verb in ("classify", "regress"):
            raise RequestError(grpc.StatusCode.UNIMPLEMENTED,
                               f"{verb} is not implemented by the tfinpaint model server")
        if verb != "predict":
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"Malformed request: POST {self.path} (unknown method {verb!r})")
        body = self._read_json()
        signature = body.get("signature_name", DEFAULT_SIGNATURE)
        if not isinstance(signature, str):
            raise _invalid("'signature_name' key must be a string value")
        has_rows, has_cols = "instances" in body, "inputs" in body
        if has_rows == has_cols:
            raise _invalid("Missing 'inputs' or 'instances' key" if not has_rows else
                           "Expecting only one of 'inputs' or 'instances' keys")
        servable = server.resolve(match["name"], version, label)
        sig = servable.signature_def(signature)
        if has_rows:
            arrays = _rows_to_arrays(body["instances"], sig)
        else:
            arrays = _columns_to_arrays(body["inputs"], sig)
        outputs = server.predict(servable, signature, arrays)
        if has_rows:
            payload = {"predictions": _arrays_to_rows(outputs)}
        else:
            payload = {"outputs": _arrays_to_columns(outputs)}
        self._send_json(200, payload)


def _rows_to_arrays(instances, sig) -> dict[str, np.ndarray]:
    """Row format: one item per batch element, stacked per input (TF Serving's rules)."""
    if not isinstance(instances, list) or not instances:
        raise _invalid("'instances' must be a non-empty JSON list (one item per batch element)")
    names = sorted(sig.inputs)
    named = all(isinstance(i, dict) and not _is_b64(i) for i in instances)
    if not named:
        if len(names) != 1:
            raise _invalid(
                f"Each instance must be a JSON object naming the signature's inputs {names}"
            )
        return {names[0]: json_to_array(instances, sig.inputs[names[0]].dtype, names[0])}
    arrays = {}
    for index, instance in enumerate(instances):
        missing, extra = set(names) - set(instance), set(instance) - set(names)
        if missing or extra:
            raise _invalid(
                f"Instance {index} does not match the signature's inputs {names}: missing "
                f"{sorted(missing)}, unexpected {sorted(extra)}"
            )
    for name in names:
        items = [json_to_array(i[name], sig.inputs[name].dtype, name) for i in instances]
        shapes = {item.shape for item in items}
        if len(shapes) > 1:
            raise _invalid(
                f"Input {name!r}: instances have different shapes {sorted(shapes)}; a batch "
                "needs one shape"
            )
        arrays[name] = np.stack(items)
    return arrays


def _columns_to_arrays(inputs, sig) -> dict[str, np.ndarray]:
    names = sorted(sig.inputs)
    if isinstance(inputs, dict) and not _is_b64(inputs):
        return {k: json_to_array(v, sig.inputs[k].dtype, k) if k in sig.inputs else np.asarray(v)
                for k, v in inputs.items()}
    if len(names) != 1:
        raise _invalid(f"'inputs' must be a JSON object naming the signature's inputs {names}")
    return {names[0]: json_to_array(inputs, sig.inputs[names[0]].dtype, names[0])}


def _arrays_to_rows(outputs: Mapping[str, np.ndarray]):
    sizes = {k: (v.shape[0] if v.ndim else None) for k, v in outputs.items()}
    if None in sizes.values() or len(set(sizes.values())) != 1:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Outputs do not share a batch size for the row format: {sizes}; use 'inputs' "
            "(columnar format)",
        )
    batch = next(iter(sizes.values()))
    if len(outputs) == 1:
        (alias, array), = outputs.items()
        return [array_to_json(array[i], alias) for i in range(batch)]
    return [{k: array_to_json(v[i], k) for k, v in outputs.items()} for i in range(batch)]


def _arrays_to_columns(outputs: Mapping[str, np.ndarray]):
    if len(outputs) == 1:
        (alias, array), = outputs.items()
        return array_to_json(array, alias)
    return {k: array_to_json(v, k) for k, v in outputs.items()}
