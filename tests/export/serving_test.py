"""Local TF Serving-compatible server and clients over real gRPC and HTTP on 127.0.0.1.

A tiny generator is exported twice (versions 1 and 2, different weights); every answer is
compared with the numpy reference of the signature (``saved_model_test.reference``). Bad
requests must be answered with the right status and leave the server serving.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tests.export.saved_model_test import reference, tiny_generator
from tfinpaint.export.model_server import ModelServer, scan_model_base
from tfinpaint.export.saved_model import export_saved_model
from tfinpaint.export.serving import (
    GrpcClient,
    RestClient,
    ServingError,
    decode_png,
    encode_png,
    prepare_request,
)

MULTIPLE = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sample(h=37, w=53, seed=0, batch=None):
    rng = np.random.default_rng(seed)
    shape = (h, w) if batch is None else (batch, h, w)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    hole = np.zeros(shape, bool)
    hole[..., h // 4 : h // 2 + 3, w // 3 : w // 2 + 5] = True
    hole[..., -4:, :6] = True
    return image, hole


def _ref(generator, image, hole):
    """Reference for one image (H, W, 3) or a batch, hole bool."""
    batched = image.ndim == 4
    images = image if batched else image[None]
    holes = (hole if batched else hole[None])[..., None].astype(np.uint8)
    out = reference(generator, images, holes, MULTIPLE)
    return out if batched else out[0]


def _assert_close(got, want, hole):
    assert got.dtype == np.uint8 and got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    # The input's known pixels come back bit for bit.
    image_known = want[~hole]
    np.testing.assert_array_equal(got[~hole], image_known)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    gens = {}
    for version in (1, 2):  # two instances: two sets of random weights
        gens[version] = tiny_generator(MULTIPLE)
        export_saved_model(gens[version], base, "tiny", version, warmup=(version == 2))
    # The two versions must differ, or version routing would be untestable.
    image, hole = _sample()
    assert np.abs(_ref(gens[1], image, hole).astype(int) - _ref(gens[2], image, hole)).max() > 2
    return base, gens


@pytest.fixture(scope="module")
def server(models):
    base, _ = models
    srv = ModelServer(base, grpc_port=0, rest_port=0, workers=4, labels={"tiny": {"stable": 1}})
    srv.start()
    # Version 2 carries TF Serving warmup records (one per signature), replayed at load.
    assert srv.resolve("tiny", 2).warmup_count == 2 and srv.resolve("tiny", 1).warmup_count == 0
    yield srv
    srv.stop(grace=1)


@pytest.fixture(scope="module")
def stubs(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield (prediction_service_pb2_grpc.PredictionServiceStub(channel),
           model_service_pb2_grpc.ModelServiceStub(channel))
    channel.close()


def _http(server, path, body=None, method=None, raw=None):
    """(status, JSON) for a REST call; ``raw`` sends bytes as the body."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(f"http://127.0.0.1:{server.rest_port}{path}", data=data,
                                     method=method or ("GET" if data is None else "POST"))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _predict_request(image, mask, name="tiny", signature="", version=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if signature:
        request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if image is not None:
        request.inputs["image"].CopyFrom(tf.make_tensor_proto(image))
    if mask is not None:
        request.inputs["mask"].CopyFrom(tf.make_tensor_proto(mask))
    return request


def _assert_still_serving(server, models):
    _, gens = models
    image, hole = _sample(24, 40, seed=11)
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", "tiny", retries=0) as client:
        _assert_close(client.predict(image, hole), _ref(gens[2], image, hole), hole)
    status, body = _http(server, "/v1/models/tiny:predict",
                         {"inputs": {"image": [image.tolist()],
                                     "mask": [(hole[..., None] * 255).tolist()]}})
    assert status == 200
    _assert_close(np.array(body["outputs"], np.uint8)[0], _ref(gens[2], image, hole), hole)


# --------------------------------------------------------------------------------------------
# Good requests
# --------------------------------------------------------------------------------------------


def test_grpc_predict_versions_batches_and_encoded(server, models):
    _, gens = models
    target = f"127.0.0.1:{server.grpc_port}"
    image, hole = _sample()
    with GrpcClient(target, "tiny") as latest, GrpcClient(target, "tiny", version=1) as v1:
        _assert_close(latest.predict(image, hole), _ref(gens[2], image, hole), hole)
        _assert_close(v1.predict(image, hole), _ref(gens[1], image, hole), hole)
        # A batch, with a float mask (> 0.5 = hole) and a uint8 mask whose holes are 1, not 255.
        images, holes = _sample(21, 30, seed=2, batch=3)
        want = _ref(gens[2], images, holes)
        _assert_close(latest.predict(images, holes.astype(np.float32) * 0.9), want, holes)
        _assert_close(latest.predict(images, holes.astype(np.uint8)), want, holes)
        # Files in, PNG out, through the `encoded` signature.
        png = latest.predict_encoded(encode_png(image), encode_png(hole.astype(np.uint8) * 255))
        _assert_close(decode_png(png), _ref(gens[2], image, hole), hole)
        assert latest.last_attempts == 1
    # The response names the version that answered; a label resolves to its version.
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(target))
    imgs, masks, _ = prepare_request(image, hole)
    response = stub.Predict(_predict_request(imgs, masks), timeout=30)
    assert response.model_spec.version.value == 2
    assert response.model_spec.signature_name == "serving_default"
    request = _predict_request(imgs, masks)
    request.model_spec.version_label = "stable"
    response = stub.Predict(request, timeout=30)
    assert response.model_spec.version.value == 1
    got = tf.make_ndarray(response.outputs["inpainted"])[0]
    _assert_close(got, _ref(gens[1], image, hole), hole)


def test_rest_row_columnar_b64_and_versions(server, models):
    _, gens = models
    image, hole = _sample(30, 44, seed=4)
    mask = (hole[..., None] * 255).astype(np.uint8)
    row = {"instances": [{"image": image.tolist(), "mask": mask.tolist()}]}
    status, body = _http(server, "/v1/models/tiny:predict", row)
    assert status == 200 and list(body) == ["predictions"]
    _assert_close(np.array(body["predictions"][0], np.uint8), _ref(gens[2], image, hole), hole)
    status, body = _http(server, "/v1/models/tiny/versions/1:predict",
                         {"inputs": {"image": [image.tolist()], "mask": [mask.tolist()]}})
    assert status == 200 and list(body) == ["outputs"]
    _assert_close(np.array(body["outputs"][0], np.uint8), _ref(gens[1], image, hole), hole)
    status, body = _http(server, "/v1/models/tiny/labels/stable:predict", row)
    assert status == 200
    _assert_close(np.array(body["predictions"][0], np.uint8), _ref(gens[1], image, hole), hole)
    # encoded signature: {"b64": ...} inputs, PNG output as {"b64": ...} (not UTF-8).
    b64 = lambda b: {"b64": base64.b64encode(b).decode()}  # noqa: E731
    status, body = _http(server, "/v1/models/tiny:predict", {
        "signature_name": "encoded",
        "instances": [{"image_bytes": b64(encode_png(image)), "mask_bytes": b64(encode_png(mask))}],
    })
    assert status == 200
    png = base64.b64decode(body["predictions"][0]["b64"])
    _assert_close(decode_png(png), _ref(gens[2], image, hole), hole)
    # The urllib client (encoded signature), single and batched.
    client = RestClient(f"127.0.0.1:{server.rest_port}", "tiny", version=1)
    _assert_close(client.predict(image, hole), _ref(gens[1], image, hole), hole)
    images, holes = _sample(20, 28, seed=5, batch=2)
    _assert_close(client.predict(images, holes), _ref(gens[1], images, holes), holes)


def test_concurrent_grpc_and_rest_clients(server, models):
    _, gens = models
    errors, results = [], []

    def work(k):
        try:
            image, hole = _sample(16 + k, 24 + 2 * k, seed=100 + k)
            cls = GrpcClient if k % 2 else RestClient
            port = server.grpc_port if k % 2 else server.rest_port
            client = cls(f"127.0.0.1:{port}", "tiny")
            for _ in range(3):
                results.append((client.predict(image, hole), _ref(gens[2], image, hole), hole))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(results) == 24
    for got, want, hole in results:
        _assert_close(got, want, hole)


# --------------------------------------------------------------------------------------------
# Bad requests: right code, and the server keeps serving
# --------------------------------------------------------------------------------------------

_IMG = np.zeros((1, 16, 24, 3), np.uint8)
_MASK = np.full((1, 16, 24, 1), 255, np.uint8)

BAD_GRPC = [
    ("missing input", dict(image=_IMG, mask=None), "Missing but required: ['mask']"),
    ("wrong dtype", dict(image=_IMG.astype(np.float32), mask=_MASK), "must be uint8"),
    ("wrong rank", dict(image=_IMG[0], mask=_MASK), "must have rank 4"),
    ("wrong image channels", dict(image=np.zeros((1, 16, 24, 4), np.uint8), mask=_MASK),
     "must have 3 channel(s)"),
    ("wrong mask channels", dict(image=_IMG, mask=np.zeros((1, 16, 24, 3), np.uint8)),
     "must have 1 channel(s)"),
    ("mismatched sizes", dict(image=_IMG, mask=_MASK[:, :8]),
     "same batch size, height and width"),
    ("empty batch", dict(image=_IMG[:0], mask=_MASK[:0]), "empty batch"),
    ("unknown signature", dict(image=_IMG, mask=_MASK, signature="nope"),
     "signature key 'nope' not found"),
]


@pytest.mark.parametrize("case", BAD_GRPC, ids=[c[0] for c in BAD_GRPC])
def test_grpc_bad_request_is_invalid_argument(server, models, stubs, case):
    _, kwargs, message = case
    predict, _ = stubs
    with pytest.raises(grpc.RpcError) as info:
        predict.Predict(_predict_request(**kwargs), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert message in info.value.details()
    _assert_still_serving(server, models)


def test_grpc_other_bad_requests(server, models, stubs):
    predict, _ = stubs
    # Extra input, garbage image bytes (decoded in the graph), unknown output filter.
    request = _predict_request(_IMG, _MASK)
    request.inputs["extra"].CopyFrom(tf.make_tensor_proto(_MASK))
    encoded = predict_pb2.PredictRequest()
    encoded.model_spec.name, encoded.model_spec.signature_name = "tiny", "encoded"
    encoded.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([b"not an image"]))
    encoded.inputs["mask_bytes"].CopyFrom(tf.make_tensor_proto([encode_png(_MASK[0])]))
    filtered = _predict_request(_IMG, _MASK)
    filtered.output_filter.append("nope")
    for req, text in [(request, "Sent extra: ['extra']"), (encoded, "image"),
                      (filtered, "output tensor alias not found")]:
        with pytest.raises(grpc.RpcError) as info:
            predict.Predict(req, timeout=30)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
        assert text in info.value.details()
    # Unknown model and version: NOT_FOUND; other PredictionService RPCs: UNIMPLEMENTED.
    for name, version, text in [("nope", None, "'nope' is not served"),
                                ("tiny", 7, "version 7 of model 'tiny'")]:
        with pytest.raises(grpc.RpcError) as info:
            predict.Predict(_predict_request(_IMG, _MASK, name=name, version=version), timeout=30)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND and text in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        predict.Classify(classification_pb2.ClassificationRequest(), timeout=30)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # The client turns errors into ServingError, without retrying them.
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", "tiny", version=9) as client:
        with pytest.raises(ServingError, match="NOT_FOUND") as err:
            client.predict(_IMG[0], _MASK[0])
        assert err.value.code == "NOT_FOUND" and client.last_attempts == 1
    _assert_still_serving(server, models)


def test_rest_bad_requests(server, models):
    img, mask = _IMG[0].tolist(), _MASK[0].tolist()
    good = {"image": img, "mask": mask}
    cases = [
        ("/v1/models/tiny:predict", None, b"{not json", 400, "JSON Parse error"),
        ("/v1/models/tiny:predict", {"signature_name": "serving_default"}, None, 400,
         "Missing 'inputs' or 'instances'"),
        ("/v1/models/tiny:predict", {"instances": []}, None, 400, "non-empty"),
        ("/v1/models/tiny:predict", {"instances": [{"image": img}]}, None, 400,
         "missing ['mask']"),
        ("/v1/models/tiny:predict", {"instances": [{"image": (_IMG[0] + 0.5).tolist(),
                                                    "mask": mask}]}, None, 400,
         "must be JSON integers"),
        ("/v1/models/tiny:predict", {"instances": [{"image": (_IMG[0].astype(int) + 300).tolist(),
                                                    "mask": mask}]}, None, 400, "[0, 255]"),
        ("/v1/models/tiny:predict", {"instances": [{"image": [[[1, 2, 3]], [[1, 2]]],
                                                    "mask": mask}]}, None, 400,
         "different lengths"),
        ("/v1/models/tiny:predict", {"instances": [{"image": np.zeros((16, 24, 4), int).tolist(),
                                                    "mask": mask}]}, None, 400,
         "must have 3 channel(s)"),
        ("/v1/models/tiny:predict", {"inputs": {"image": [img], "mask": [mask[:8]]}}, None, 400,
         "same batch size, height and width"),
        ("/v1/models/tiny:predict", {"signature_name": "nope", "instances": [good]}, None, 400,
         "not found"),
        ("/v1/models/tiny:predict", {"signature_name": "encoded",
                                     "instances": [{"image_bytes": {"b64": "%%%"},
                                                    "mask_bytes": {"b64": "AAAA"}}]},
         None, 400, "base64"),
        ("/v1/models/nope:predict", {"instances": [good]}, None, 404, "not served"),
        ("/v1/models/tiny/versions/7:predict", {"instances": [good]}, None, 404, "version 7"),
        ("/v1/models/tiny/labels/canary:predict", {"instances": [good]}, None, 404, "canary"),
        ("/v1/models/tiny:classify", {"examples": []}, None, 501, "not implemented"),
        ("/v2/whatever", {"instances": [good]}, None, 404, "Malformed request"),
    ]
    for path, body, raw, code, text in cases:
        status, answer = _http(server, path, body, raw=raw)
        assert (status, list(answer)) == (code, ["error"]), (path, body, answer)
        assert text in answer["error"], (path, answer)
    _assert_still_serving(server, models)


# --------------------------------------------------------------------------------------------
# Metadata and status
# --------------------------------------------------------------------------------------------


def test_metadata_matches_the_saved_signature(server, models, stubs):
    base, _ = models
    predict, _ = stubs
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "tiny"
    request.metadata_field.append("signature_def")
    response = predict.GetModelMetadata(request, timeout=30)
    assert response.model_spec.version.value == 2
    any_msg = response.metadata["signature_def"]
    assert any_msg.type_url.endswith("tensorflow.serving.SignatureDefMap")
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    assert any_msg.Unpack(sig_map)
    # Independent view of the same signatures: the loaded SavedModel's structured inputs.
    loaded = tf.saved_model.load(str(base / "tiny" / "2"))
    for key in ("serving_default", "encoded"):
        sig = sig_map.signature_def[key]
        specs = loaded.signatures[key].structured_input_signature[1]
        assert set(sig.inputs) == set(specs)
        for alias, spec in specs.items():
            assert tf.dtypes.as_dtype(sig.inputs[alias].dtype) == spec.dtype
            dims = [d.size for d in sig.inputs[alias].tensor_shape.dim]
            assert dims == [-1 if d is None else d for d in spec.shape.as_list()]
        assert set(sig.outputs) == set(loaded.signatures[key].structured_outputs)
    assert sig_map.signature_def["serving_default"].outputs["inpainted"].dtype == tf.uint8
    for fields, text in [([], "at least one metadata_field"), (["foo"], "not supported")]:
        bad = get_model_metadata_pb2.GetModelMetadataRequest()
        bad.model_spec.name = "tiny"
        bad.metadata_field.extend(fields)
        with pytest.raises(grpc.RpcError) as info:
            predict.GetModelMetadata(bad, timeout=30)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert text in info.value.details()
    # Client and REST views agree.
    meta = GrpcClient(f"127.0.0.1:{server.grpc_port}", "tiny", version=1).metadata()
    assert meta["model_spec"]["version"] == "1"
    image_info = meta["signature_def"]["serving_default"]["inputs"]["image"]
    assert image_info["dtype"] == "DT_UINT8"
    assert [d["size"] for d in image_info["tensor_shape"]["dim"]] == ["-1", "-1", "-1", "3"]
    status, rest_meta = _http(server, "/v1/models/tiny/versions/1/metadata")
    assert status == 200 and rest_meta["model_spec"]["version"] == "1"
    assert rest_meta["metadata"]["signature_def"]["signature_def"] == meta["signature_def"]


def test_model_status(server, stubs):
    _, model_service = stubs

    def status(name, version=None):
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        return model_service.GetModelStatus(request, timeout=30)

    available = get_model_status_pb2.ModelVersionStatus.State.AVAILABLE
    response = status("tiny")
    assert [(s.version, s.state) for s in response.model_version_status] == [
        (2, available), (1, available)]
    assert [s.version for s in status("tiny", 1).model_version_status] == [1]
    for name, version in [("tiny", 5), ("nope", None)]:
        with pytest.raises(grpc.RpcError) as info:
            status(name, version)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
    code, body = _http(server, "/v1/models/tiny/versions/2")
    assert code == 200 and body == {"model_version_status": [
        {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK",
                                                          "error_message": ""}}]}
    assert _http(server, "/v1/models/nope")[0] == 404
    client = RestClient(f"http://127.0.0.1:{server.rest_port}/", "tiny")
    assert [s["version"] for s in client.status()["model_version_status"]] == ["2", "1"]
    assert GrpcClient(f"127.0.0.1:{server.grpc_port}", "tiny").status() == client.status()


# --------------------------------------------------------------------------------------------
# Retries, timeouts, version polling, shutdown
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [GrpcClient, RestClient])
def test_retry_on_unavailable_with_exponential_backoff(cls):
    port = _free_port()  # nothing listens there
    client = cls(f"127.0.0.1:{port}", "tiny", retries=3, backoff=0.05, timeout=5)
    sleeps = []
    client._sleep = sleeps.append
    image, hole = _sample(8, 8)
    with pytest.raises(ServingError) as info:
        client.predict(image, hole)
    assert info.value.code == "UNAVAILABLE" and info.value.attempts == 4
    assert "after 4 attempts" in str(info.value) and f"127.0.0.1:{port}" in str(info.value)
    assert client.last_attempts == 4
    np.testing.assert_allclose(sleeps, [0.05, 0.1, 0.2])
    # The real clock: the three sleeps take at least 0.35 s.
    client = cls(f"127.0.0.1:{port}", "tiny", retries=3, backoff=0.05, timeout=5)
    start = time.monotonic()
    with pytest.raises(ServingError, match="UNAVAILABLE"):
        client.status()
    assert time.monotonic() - start >= 0.35


def test_retry_reaches_a_server_that_comes_up(models):
    base, gens = models
    port = _free_port()
    image, hole = _sample(16, 16, seed=9)
    result = {}
    client = GrpcClient(f"127.0.0.1:{port}", "tiny", retries=8, backoff=0.2, timeout=20)

    def call():
        try:
            result["out"] = client.predict(image, hole)
        except Exception as e:  # noqa: BLE001
            result["error"] = e

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.5)
    with ModelServer(base, grpc_port=port, rest_port=None, workers=2, warmup=False):
        thread.join(60)
    assert "error" not in result, result.get("error")
    _assert_close(result["out"], _ref(gens[2], image, hole), hole)
    assert client.last_attempts > 1


def test_timeouts_are_deadline_exceeded_and_not_retried(server, models):
    image, hole = _sample(512, 512, seed=3)
    grpc_client = GrpcClient(f"127.0.0.1:{server.grpc_port}", "tiny", timeout=0.001)
    with pytest.raises(ServingError) as info:
        grpc_client.predict(image, hole)
    assert info.value.code == "DEADLINE_EXCEEDED" and grpc_client.last_attempts == 1
    rest_client = RestClient(f"127.0.0.1:{server.rest_port}", "tiny", timeout=0.001)
    with pytest.raises(ServingError) as info:
        rest_client.predict(image, hole)
    assert info.value.code in ("DEADLINE_EXCEEDED", "UNAVAILABLE")
    with pytest.raises(ValueError, match="timeout"):
        GrpcClient("127.0.0.1:1", "tiny", timeout=0)
    _assert_still_serving(server, models)


def test_polling_picks_up_new_and_removed_versions(models, tmp_path):
    src, gens = models
    base = tmp_path / "models"
    shutil.copytree(src / "tiny" / "1", base / "tiny" / "1")
    (base / "tiny" / ".tmp-3-partial").mkdir()  # an export in progress is ignored
    (base / "tiny" / "notes").mkdir()
    assert {n: sorted(v) for n, v in scan_model_base(base).items()} == {"tiny": [1]}
    with ModelServer(base, grpc_port=0, rest_port=None, poll_seconds=0.1, warmup=False) as srv:
        assert srv.served() == {"tiny": [1]}
        shutil.copytree(src / "tiny" / "2", base / "tiny" / "2")
        shutil.copytree(src / "tiny" / "1", base / "other" / "4")
        deadline = time.monotonic() + 60
        while srv.served() != {"other": [4], "tiny": [1, 2]} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert srv.served() == {"other": [4], "tiny": [1, 2]}
        image, hole = _sample(16, 24, seed=6)
        client = GrpcClient(f"127.0.0.1:{srv.grpc_port}", "tiny")
        _assert_close(client.predict(image, hole), _ref(gens[2], image, hole), hole)
        shutil.rmtree(base / "tiny" / "2")
        while srv.served() != {"other": [4], "tiny": [1]} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert srv.served() == {"other": [4], "tiny": [1]}
        _assert_close(client.predict(image, hole), _ref(gens[1], image, hole), hole)
        # A broken version is not served; its status says why; the others keep serving.
        (base / "tiny" / "5").mkdir()
        (base / "tiny" / "5" / "saved_model.pb").write_bytes(b"not a SavedModel")
        srv.reload()
        assert srv.served() == {"other": [4], "tiny": [1]}
        end = get_model_status_pb2.ModelVersionStatus.State.END
        broken = srv.status("tiny", 5).model_version_status[0]
        assert broken.state == end and broken.status.error_message
        _assert_close(client.predict(image, hole), _ref(gens[1], image, hole), hole)
    # version_policy="latest" loads only the newest version, like TF Serving's default.
    with ModelServer(src, grpc_port=None, rest_port=0, version_policy="latest",
                     warmup=False) as srv:
        assert srv.served() == {"tiny": [2]}


def test_graceful_shutdown_finishes_in_flight_request(models):
    base, gens = models
    srv = ModelServer(base, grpc_port=0, rest_port=0, workers=2, warmup=False).start()
    target = f"127.0.0.1:{srv.grpc_port}"
    images, holes = _sample(1024, 1024, seed=8, batch=2)
    result = {}

    def call():
        try:
            result["out"] = GrpcClient(target, "tiny", retries=0, timeout=120).predict(
                images, holes)
        except Exception as e:  # noqa: BLE001
            result["error"] = e

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 60
    while srv.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.002)
    waited_for = srv.stop(grace=60)
    thread.join(120)
    assert waited_for >= 1
    assert "error" not in result, result.get("error")
    _assert_close(result["out"], _ref(gens[2], images, holes), holes)
    # Nothing is accepted after stop().
    image, hole = _sample(8, 8)
    for client in (GrpcClient(target, "tiny", retries=0, timeout=5),
                   RestClient(f"127.0.0.1:{srv.rest_port}", "tiny", retries=0, timeout=5)):
        with pytest.raises(ServingError, match="UNAVAILABLE"):
            client.predict(image, hole)


def test_prepare_request_and_client_input_errors():
    image, hole = _sample(10, 12)
    imgs, masks, batched = prepare_request(image, hole[..., None].repeat(3, -1) * 200)
    assert imgs.shape == (1, 10, 12, 3) and masks.shape == (1, 10, 12, 1) and not batched
    np.testing.assert_array_equal(masks[0, ..., 0] == 255, hole)
    imgs, masks, batched = prepare_request(image.astype(np.float32) / 255, hole.astype(float))
    np.testing.assert_array_equal(imgs[0], image)
    np.testing.assert_array_equal(masks[0, ..., 0] == 255, hole)
    _, masks, batched = prepare_request(np.stack([image, image]), hole)  # one mask for a batch
    assert batched and masks.shape == (2, 10, 12, 1)
    with pytest.raises(ValueError, match="RGB"):
        prepare_request(image[..., :2], hole)
    with pytest.raises(ValueError, match="different aspect ratios"):
        prepare_request(image, hole[:5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        prepare_request(image * 2.0, hole)
