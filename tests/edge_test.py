"""Every edge: one mask rule, one edge path, and bad input answered clearly.

One tiny "white" generator (its output is 1.0 everywhere, so every hole pixel comes back 255
while the image never exceeds 200) is used in-process, exported as a SavedModel behind one
local server (gRPC + REST), and converted to TFLite; the hole each edge filled is read off
its result. Then a table of bad inputs goes through the CLI, the Python API, gRPC and REST,
each asserting the error class and message, and the server must answer a good request after
each one.
"""

from __future__ import annotations

import base64
import io
import json
import pathlib
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import warnings

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfinpaint.cli import main
from tfinpaint.data import polarity
from tfinpaint.export.model_server import ModelServer, RequestError
from tfinpaint.export.saved_model import export_saved_model
from tfinpaint.export.serving import GrpcClient, RestClient, ServingError, decode_png

SIDE = 44  # not a multiple of the generator's 8: every edge pads and crops
SOFT_VALUES = np.array([0, 50, 128, 200, 255], np.uint8)
MAX_PIXELS = 64 * 64


class WhiteGenerator(keras.Model):
    """Outputs sigmoid(20) ~ 1 everywhere: filled pixels become exactly 255."""

    size_multiple = 8

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(3, 1, kernel_initializer="zeros",
                                        bias_initializer=keras.initializers.Constant(20.0))

    def call(self, inputs, training=False):
        image, mask = inputs
        return {"output": keras.activations.sigmoid(self.conv(image))}


def _image(h=SIDE, w=SIDE, seed=0):
    return np.random.default_rng(seed).integers(0, 201, (h, w, 3), dtype=np.uint8)


def _filled(result, image):
    """The hole an edge filled: pixels that came back 255 (the image never exceeds 200)."""
    result = np.asarray(result)
    assert (result[~(result == 255).all(-1)] == image[~(result == 255).all(-1)]).all()
    return (result == 255).all(-1)


def _soft_mask():
    blocks = np.random.default_rng(1).integers(0, 5, (11, 11))
    return np.kron(SOFT_VALUES[blocks], np.ones((4, 4), np.uint8))  # 44 x 44, 4 px blocks


def _encode(array, fmt):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **({"quality": 75} if fmt == "JPEG" else {}))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def generator():
    gen = WhiteGenerator()
    gen((tf.zeros((1, 8, 8, 3)), tf.ones((1, 8, 8, 1))))
    return gen


@pytest.fixture(scope="module")
def server(generator, tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    export_saved_model(generator, base, "white", 1, warmup=False)
    srv = ModelServer(base, grpc_port=0, rest_port=0, workers=4, max_pixels=MAX_PIXELS,
                      max_concurrent=1, max_queue=8)
    srv.start()
    yield srv
    srv.stop(grace=1)


@pytest.fixture(scope="module")
def clients(server):
    grpc_client = GrpcClient(f"127.0.0.1:{server.grpc_port}", "white", retries=0, timeout=60)
    rest_client = RestClient(f"127.0.0.1:{server.rest_port}", "white", retries=0, timeout=60)
    yield grpc_client, rest_client
    grpc_client.close()


@pytest.fixture(scope="module")
def tflite_model(generator):
    pytest.importorskip("ai_edge_litert")
    from tfinpaint.export import tflite

    return tflite.TFLiteInpainter(tflite.convert(generator, size=(SIDE, SIDE)))


@pytest.fixture
def white_cli(monkeypatch, generator):
    """`--model white` resolves to the white generator for in-process CLI runs."""
    from tfinpaint import inference

    real = inference.load
    monkeypatch.setattr(inference, "load",
                        lambda name: generator if name == "white" else real(name))


# --------------------------------------------------------------------------------------------
# Must show: the same soft mask gives the same hole through every edge
# --------------------------------------------------------------------------------------------


def test_same_soft_mask_same_hole_through_every_edge(
    generator, server, clients, tflite_model, white_cli, tmp_path, capsys
):
    from tfinpaint.data.masks import MaskFolder
    from tfinpaint.evaluation import read_mask
    from tfinpaint.export import tflite
    from tfinpaint.inference import Inpainter

    grpc_client, rest_client = clients
    image = _image()
    soft = _soft_mask()
    image_png = _encode(image, "PNG")
    (tmp_path / "image.png").write_bytes(image_png)
    forms = {"array": soft, "PNG": _encode(soft, "PNG"), "JPEG": _encode(soft, "JPEG")}
    # The rule on the array: 128, 200 and 255 are holes, 0 and 50 are not.
    np.testing.assert_array_equal(polarity.hole_from_user_mask(soft)[..., 0] > 0.5, soft >= 128)
    checked = {}
    for form, mask in forms.items():
        arr = mask if form == "array" else polarity.read_mask_file(mask)
        want = polarity.hole_from_user_mask(arr)[..., 0] > 0.5
        assert 0.2 < want.mean() < 0.8
        got = {
            "tf_hole_from_user_mask": polarity.tf_hole_from_user_mask(
                tf.constant(arr[None, ..., None] if arr.ndim == 2 else arr[None])
            ).numpy()[0, ..., 0] > 0.5,
            "Inpainter": _filled(Inpainter(generator)(image, arr), image),
            "GrpcClient.predict": _filled(grpc_client.predict(image, arr), image),
            "RestClient.predict": _filled(rest_client.predict(image, arr), image),
            "serving_default (raw mask)": _filled(grpc_client.predict_tensors(
                {"image": image[None], "mask": (arr if arr.ndim == 2 else arr[..., 0])[
                    None, ..., None]})["inpainted"][0], image),
            "tflite.run": _filled(tflite.run(tflite_model, image, arr), image),
            "TFLite raw signature": _filled(tflite_model.raw(
                image[None], (arr if arr.ndim == 2 else arr[..., 0])[None, ..., None]
            )["inpainted"][0], image),
        }
        if form != "array":
            path = tmp_path / f"mask_{form}.{form.lower()}"
            path.write_bytes(mask)
            out = tmp_path / f"out_{form}.png"
            assert main(["inpaint", str(tmp_path / "image.png"), "--mask", str(path), "-o",
                         str(out), "--model", "white"]) == 0
            got["CLI inpaint"] = _filled(np.asarray(Image.open(out)), image)
            for api, extra, port in (("gRPC", [], server.grpc_port),
                                     ("REST", ["--rest"], server.rest_port)):
                out = tmp_path / f"pred_{form}_{api}.png"
                assert main(["predict", str(tmp_path / "image.png"), "--mask", str(path), "-o",
                             str(out), "--server", f"127.0.0.1:{port}", "--model", "white",
                             *extra]) == 0
                got[f"CLI predict {api}"] = _filled(np.asarray(Image.open(out)), image)
            for api, client in (("gRPC", grpc_client), ("REST", rest_client)):
                png = client.predict_encoded(image_png, mask)
                got[f"encoded signature ({api})"] = _filled(decode_png(png), image)
            got["evaluate read_mask"] = read_mask(path, SIDE, crop="none")[..., 0] < 0.5
            got["MaskFolder"] = MaskFolder(path).read(0).astype(bool)
        for edge, hole in got.items():
            assert np.array_equal(hole, want), f"{form} mask: {edge} filled another hole"
        checked[form] = sorted(got)
    capsys.readouterr()
    assert len(checked["PNG"]) == 14 and len(checked["array"]) == 7


def test_mask_file_modes_read_alike(tmp_path):
    """One reader: gray, 1-bit, palette, RGB, RGBA, LA and 16-bit files give one hole."""
    hole = np.zeros((12, 16), bool)
    hole[3:9, 4:12] = True
    gray = hole.astype(np.uint8) * 255
    files = {
        "L": Image.fromarray(gray),
        "1": Image.fromarray(gray).convert("1"),
        "P": Image.fromarray(gray).convert("P"),
        "RGB": Image.fromarray(gray).convert("RGB"),
        "RGBA": Image.fromarray(np.dstack([gray] * 3 + [np.full_like(gray, 255)])),
        "LA": Image.fromarray(np.dstack([gray, np.full_like(gray, 255)]), mode="LA"),
        "I;16": Image.fromarray(hole.astype(np.uint16) * 65535),
        "0/1": Image.fromarray(hole.astype(np.uint8)),
    }
    for name, img in files.items():
        path = tmp_path / f"{name.replace('/', '_').replace(';', '')}.png"
        img.save(path)
        got = polarity.hole_from_user_mask(polarity.read_mask_file(path))[..., 0] > 0.5
        np.testing.assert_array_equal(got, hole, err_msg=name)
        graph = polarity.tf_decode_mask_file(tf.constant(path.read_bytes())).numpy()[..., 0]
        np.testing.assert_array_equal(graph > 0.5, hole, err_msg=f"{name} (graph)")
    # Transparent paint marks nothing: white but alpha 0.
    rgba = np.dstack([np.full_like(gray, 255)] * 3 + [gray])
    assert (polarity.hole_from_user_mask(rgba)[..., 0] > 0.5).tolist() == hole.tolist()


def test_tflite_graph_is_builtins_only_with_the_mask_rule(tflite_model):
    from tfinpaint.export.tflite import list_ops

    ops = list_ops(tflite_model.model_bytes)
    assert "REDUCE_MAX" in ops and not [op for op in ops if op.startswith("Flex")]


# --------------------------------------------------------------------------------------------
# Quiet start-up
# --------------------------------------------------------------------------------------------


def test_tfinpaint_inpaint_prints_only_its_own_lines(tmp_path):
    image, mask = _image(), np.zeros((SIDE, SIDE), np.uint8)
    mask[10:20, 10:20] = 255
    Image.fromarray(image).save(tmp_path / "i.png")
    Image.fromarray(mask).save(tmp_path / "m.png")
    root = pathlib.Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-m", "tfinpaint", "inpaint", str(tmp_path / "i.png"),
         "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "o.png")],
        capture_output=True, text=True, cwd=root, timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"Wrote {tmp_path / 'o.png'}\n"
    # No absl / oneDNN / CUDA lines, though TensorFlow is loaded (tfinpaint.edge.run_padded).
    assert proc.stderr == ""


# --------------------------------------------------------------------------------------------
# Bad inputs: CLI, Python API, gRPC, REST
# --------------------------------------------------------------------------------------------


def _png(array):
    return _encode(np.asarray(array, np.uint8), "PNG")


def _cli(args, tmp_path, capsys):
    image, mask = _image(), np.zeros((SIDE, SIDE), np.uint8)
    mask[5:9, 5:9] = 255
    Image.fromarray(image).save(tmp_path / "i.png")
    Image.fromarray(mask).save(tmp_path / "m.png")
    Image.fromarray(np.full((SIDE, SIDE), 255, np.uint8)).save(tmp_path / "white.png")
    Image.fromarray(np.zeros((SIDE, 2 * SIDE), np.uint8)).save(tmp_path / "wide.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    rgba = np.dstack([image, np.full((SIDE, SIDE), 255, np.uint8)])
    rgba[:4, :4, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    args = [a.format(tmp=tmp_path) for a in args]
    code = main(args)
    out = capsys.readouterr()
    return code, out.out + out.err


CLI_CASES = {
    "missing image": (["inpaint", "{tmp}/nope.png", "--mask", "{tmp}/m.png", "-o", "{tmp}/o.png"],
                      2, r"image \S*nope.png: does not exist"),
    "mask aspect": (["inpaint", "{tmp}/i.png", "--mask", "{tmp}/wide.png", "-o", "{tmp}/o.png"],
                    2, r"different aspect ratios.*\(44, 88\).*\(44, 44\)"),
    "garbage mask": (["inpaint", "{tmp}/i.png", "--mask", "{tmp}/junk.png", "-o", "{tmp}/o.png"],
                     2, r"mask file \S*junk.png: cannot be read as an image"),
    "all-white mask": (["inpaint", "{tmp}/i.png", "--mask", "{tmp}/white.png", "-o",
                        "{tmp}/o.png"], 0, r"warning: .*covers the whole image"),
    "transparent image": (["inpaint", "{tmp}/rgba.png", "--mask", "{tmp}/m.png", "-o",
                           "{tmp}/o.png"], 0, r"warning: image file \S*rgba.png has transparent"),
    "bad serve limit": (["serve", "{tmp}", "--max-pixels", "-1"], 2,
                        r"--max-pixels must be >= 0"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_bad_input_cli(case, tmp_path, capsys):
    args, code, pattern = CLI_CASES[case]
    got_code, text = _cli(args, tmp_path, capsys)
    assert got_code == code, text
    assert __import__("re").search(pattern, text), text


def _nan_run(tmp_path):
    from tfinpaint.models import registry

    spec = registry.get_spec("pconv_unet")
    config = dict(spec.metadata.get("test_config") or {})
    model = registry.build("pconv_unet", **config)
    var = model.trainable_weights[0]
    value = np.asarray(var).copy()
    value.flat[0] = np.nan
    var.assign(value)
    model.save_weights(str(tmp_path / "generator.weights.h5"))
    (tmp_path / "config.json").write_text(json.dumps({"model": "pconv_unet", "config": config}))
    return tmp_path


def _api_case(name, tmp_path):
    from tfinpaint.convert.common import read_checkpoint
    from tfinpaint.inference import Inpainter, load
    from tfinpaint.models import registry

    image = _image(16, 16)
    if name == "nan mask":
        return polarity.hole_from_user_mask(np.array([[0.0, np.nan]]))
    if name == "negative mask":
        return polarity.hole_from_user_mask(np.array([[0.0, -1.0]]))
    if name == "string mask":
        return polarity.hole_from_user_mask(np.array([["a"]]))
    if name == "mask aspect":
        return Inpainter("cv2-telea")(image, np.zeros((16, 40), bool))
    if name == "transparent image":
        rgba = np.dstack([image, np.zeros((16, 16), np.uint8)])
        return Inpainter("cv2-telea")(rgba, np.eye(16, dtype=bool))
    if name == "all-hole mask":
        return Inpainter("cv2-telea")(image, np.ones((16, 16), bool))
    if name == "config type":
        return registry.build("pconv_unet", layer_size="notjson")
    if name == "garbage npz":
        (tmp_path / "x.npz").write_bytes(b"garbage")
        return read_checkpoint(tmp_path / "x.npz")
    if name == "pickled npz":
        np.savez(tmp_path / "p.npz", a=np.array([{"x": 1}], dtype=object))
        return read_checkpoint(tmp_path / "p.npz")
    if name == "nan weights":
        return load(_nan_run(tmp_path))
    if name == "unreadable folder":
        from tfinpaint.data.images import image_dataset

        for i in range(2):
            (tmp_path / f"x{i}.png").write_bytes(b"junk")
        ds = image_dataset(str(tmp_path), size=(16, 16), crop="center_crop", repeat=True,
                           on_error="skip")
        return list(ds.take(1))
    raise AssertionError(name)


API_CASES = {
    "nan mask": (ValueError, "NaN or Inf"),
    "negative mask": (ValueError, r"must be >= 0"),
    "string mask": (TypeError, "bool, integer or float"),
    "mask aspect": (ValueError, r"different aspect ratios.*\(16, 40\)"),
    "all-hole mask": (UserWarning, "covers the whole image"),
    "transparent image": (UserWarning, "alpha channel is dropped"),
    "config type": (ValueError, r"config key 'layer_size' of model 'pconv_unet' takes a int"),
    "garbage npz": (ValueError, r"x.npz: not a readable .npz"),
    "pickled npz": (ValueError, r"pickled Python objects"),
    "nan weights": (ValueError, r"hold NaN or Inf .*\(1 of"),
    "unreadable folder": (tf.errors.InvalidArgumentError, r"none of the 2 image file\(s\)"),
}


@pytest.mark.parametrize("case", sorted(API_CASES))
def test_bad_input_python_api(case, tmp_path):
    error, pattern = API_CASES[case]
    if issubclass(error, Warning):
        with pytest.warns(error, match=pattern):
            _api_case(case, tmp_path)
    else:
        with pytest.raises(error, match=pattern):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _api_case(case, tmp_path)


_BIG = 96  # 96 x 96 > MAX_PIXELS


def _request_for(case):
    """(signature inputs, signature) of a bad serving request."""
    img = _image()
    mask = np.zeros((SIDE, SIDE, 1), np.uint8)
    if case == "too many pixels":
        return {"image": np.zeros((1, _BIG, _BIG, 3), np.uint8),
                "mask": np.zeros((1, _BIG, _BIG, 1), np.uint8)}, "serving_default"
    if case == "batch over the pixel limit":
        return {"image": np.zeros((3, SIDE, SIDE, 3), np.uint8),
                "mask": np.zeros((3, SIDE, SIDE, 1), np.uint8)}, "serving_default"
    if case == "encoded file too large":  # small PNG declaring many pixels: refused unread
        return {"image_bytes": np.array([_png(np.zeros((_BIG, _BIG, 3)))], object),
                "mask_bytes": np.array([_png(np.zeros((_BIG, _BIG)))], object)}, "encoded"
    if case == "encoded mask aspect":
        return {"image_bytes": np.array([_png(img)], object),
                "mask_bytes": np.array([_png(np.zeros((SIDE // 2, SIDE)))], object)}, "encoded"
    if case == "encoded garbage":
        return {"image_bytes": np.array([b"junk"], object),
                "mask_bytes": np.array([_png(mask[..., 0])], object)}, "encoded"
    if case == "size mismatch":
        return {"image": img[None], "mask": np.zeros((1, SIDE, SIDE - 1, 1), np.uint8)}, \
            "serving_default"
    if case == "wrong dtype":
        return {"image": img[None].astype(np.float32), "mask": mask[None]}, "serving_default"
    raise AssertionError(case)


SERVER_CASES = {
    "too many pixels": ("RESOURCE_EXHAUSTED", r"9216 pixels .*max_pixels=4096.*--max-pixels"),
    "batch over the pixel limit": ("RESOURCE_EXHAUSTED", r"5808 pixels .*--max-pixels"),
    "encoded file too large": ("RESOURCE_EXHAUSTED", r"9216 pixels .*--max-pixels"),
    "encoded mask aspect": ("INVALID_ARGUMENT", r"different aspect ratios"),
    "encoded garbage": ("INVALID_ARGUMENT", r"not a readable image file"),
    "size mismatch": ("INVALID_ARGUMENT", r"same batch size, height and width"),
    "wrong dtype": ("INVALID_ARGUMENT", r"'image'.*uint8"),
}


def _rest_inputs(arrays):
    return {k: ([{"b64": base64.b64encode(bytes(b)).decode()} for b in v] if v.dtype == object
                else v.tolist()) for k, v in arrays.items()}


def _good_request_answered(clients):
    image = _image(20, 28, seed=5)
    hole = np.zeros((20, 28), bool)
    hole[4:9, 6:12] = True
    for client in clients:
        np.testing.assert_array_equal(_filled(client.predict(image, hole), image), hole)


@pytest.mark.parametrize("api", ["gRPC", "REST"])
@pytest.mark.parametrize("case", sorted(SERVER_CASES))
def test_bad_input_server(case, api, server, clients):
    code, pattern = SERVER_CASES[case]
    arrays, signature = _request_for(case)
    grpc_client, rest_client = clients
    with pytest.raises(ServingError) as info:
        if api == "gRPC":
            grpc_client.predict_tensors(arrays, signature)
        else:
            rest_client.predict_json({"signature_name": signature,
                                      "inputs": _rest_inputs(arrays)})
    assert info.value.code == code, str(info.value)
    assert __import__("re").search(pattern, info.value.details), info.value.details
    if api == "REST":
        assert info.value.http_status == {"RESOURCE_EXHAUSTED": 429,
                                          "INVALID_ARGUMENT": 400}[code]
    _good_request_answered(clients)


def test_server_queue_limit_and_rest_body_limit(server, clients, tmp_path):
    # Concurrency: one slot; with it held and a queue of 0, the next request is refused.
    srv = ModelServer(tmp_path, grpc_port=0, max_concurrent=1, max_queue=0)
    with srv.work_slot():
        with pytest.raises(RequestError, match=r"Server busy.*max_queue=0.*--max-queue") as info:
            with srv.work_slot():
                pass
        assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    with srv.work_slot():  # released again
        pass
    # A queued request waits for the slot and then runs.
    srv = ModelServer(tmp_path, grpc_port=0, max_concurrent=1, max_queue=1)
    order = []
    with srv.work_slot():
        t = threading.Thread(target=lambda: srv.work_slot().__enter__() or order.append("ran"))
        t.start()
        t.join(0.3)
        assert order == []
    t.join(5)
    assert order == ["ran"]
    # REST bodies over max_message_bytes are refused before being read.
    url = f"http://127.0.0.1:{server.rest_port}/v1/models/white:predict"
    request = urllib.request.Request(url, data=b"{}", method="POST",
                                     headers={"Content-Length": str(10**9)})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(request, timeout=30)
    assert info.value.code == 429
    assert "--max-message-bytes" in json.loads(info.value.read())["error"]
    _good_request_answered(clients)


def test_resize_hole_numpy_and_graph_agree():
    rng = np.random.default_rng(3)
    for (mh, mw), (h, w) in [((22, 33), (44, 66)), ((37, 53), (75, 106)), ((45, 70), (45, 70)),
                             ((90, 140), (45, 70)), ((10, 15), (31, 47))]:
        hole = rng.random((mh, mw)) > 0.5
        polarity.check_mask_size((mh, mw), (h, w))
        want = polarity.resize_hole(hole, h, w)
        got = polarity.tf_resize_hole(tf.constant(hole[..., None]), h, w).numpy()[..., 0]
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="different aspect ratios"):
        polarity.check_mask_size((22, 44), (44, 44))
    with pytest.raises(tf.errors.InvalidArgumentError, match="different aspect ratios"):
        polarity.tf_resize_hole(tf.zeros((22, 44, 1)), 44, 44)
