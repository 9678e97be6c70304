"""The ``tfinpaint ui`` server over real HTTP on 127.0.0.1: its API, its refusals, ``--server``.

Every bad request must get a status and a message naming the problem, and the server must
answer the next request as before.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from tfinpaint.cli import main
from tfinpaint.data.images import load_image
from tfinpaint.inference import Inpainter
from tfinpaint.ui import InpaintService, UIServer, create_app, default_model

REPO = pathlib.Path(__file__).resolve().parents[2]


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _post(url: str, data: bytes, content_type: str = "application/octet-stream"):
    """(status, body bytes, headers) of a POST; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": content_type})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def _inpaint(server, image_png: bytes, mask_png: bytes, model=None, strategy="original"):
    body = {"image": base64.b64encode(image_png).decode(),
            "mask": base64.b64encode(mask_png).decode(), "model": model, "strategy": strategy}
    return _post(server.url + "api/v1/inpaint", json.dumps(body).encode(), "application/json")


def _error(answer) -> str:
    return json.loads(answer[1])["error"]


@pytest.fixture(scope="module")
def sample(photo):
    """(photo pixels, their PNG, a 0/255 mask PNG of a rectangle, the hole)."""
    pixels = load_image(photo)
    hole = np.zeros(pixels.shape[:2], bool)
    hole[100:140, 60:150] = True
    return pixels, _png(pixels), _png(hole.astype(np.uint8) * 255), hole


def test_default_model_is_the_inpaint_commands():
    from tfinpaint.cli import build_parser

    inpaint_default = build_parser().parse_args(["inpaint", "a", "--mask", "m", "-o", "o"]).model
    assert default_model() == inpaint_default
    service = InpaintService()
    config = service.config()
    assert config["default_model"] == inpaint_default
    ids = [m["id"] for m in config["models"]]
    assert ids[0] == inpaint_default and {"cv2-telea", "cv2-ns"} <= set(ids)
    # A registered network without a run directory has random weights: the page says so.
    (network,) = [m for m in InpaintService(["pconv_unet"]).config()["models"]
                  if m["id"] == "pconv_unet"]
    assert "RANDOM, untrained weights" in network["note"]


def test_config_and_static_files(ui_server, tiny_run, broken_run):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    config = json.loads(opener.open(ui_server.url + "api/v1/config").read())
    assert [m["id"] for m in config["models"]] == [str(tiny_run), "cv2-telea", str(broken_run),
                                                   "cv2-ns"]
    assert config["default_model"] == str(tiny_run)
    assert config["models"][0]["label"] == "pconv_tiny (pconv_unet)"
    assert config["strategies"] == ["original", "resize", "crop"] and config["max_side"] == 1024
    page = opener.open(ui_server.url).read().decode()
    assert '<script src="/static/app.js"' in page and "https://" not in page  # nothing remote
    for asset in ("app.js", "style.css"):
        text = opener.open(ui_server.url + "static/" + asset).read().decode()
        assert "http://" not in text and "https://" not in text


def test_open_image_decodes_like_the_cli(ui_server, tmp_path, photo):
    status, body, headers = _post(ui_server.url + "api/v1/image?name=p.jpg", photo.read_bytes())
    assert status == 200 and headers["Content-Type"] == "image/png"
    np.testing.assert_array_equal(_decode(body), load_image(photo))
    # RGBA: alpha composited over white, as `tfinpaint inpaint` reads the file.
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :15, 3] = 255
    path = tmp_path / "alpha.png"
    path.write_bytes(_png(rgba))
    status, body, _ = _post(ui_server.url + "api/v1/image?name=alpha.png", path.read_bytes())
    assert status == 200
    np.testing.assert_array_equal(_decode(body), load_image(path))
    assert _decode(body)[0, 20].tolist() == [255, 255, 255]


def test_bad_images_are_refused_with_a_message(ui_server):
    url = ui_server.url + "api/v1/image?name="
    status, body, _ = _post(url + "notes.txt", b"just some text")
    assert status == 400
    assert json.loads(body)["error"].startswith("notes.txt cannot be decoded: not a JPEG, PNG")
    assert _post(url + "empty.png", b"")[0] == 400
    status, body, _ = _post(url + "big.png", _png(np.zeros((30, 1500, 3), np.uint8)))
    assert status == 413
    assert "big.png: the image is 1500x30 pixels" in json.loads(body)["error"]
    assert "up to 1024 pixels on the long side" in json.loads(body)["error"]
    truncated = _png(np.full((40, 40, 3), 7, np.uint8))[:60]
    status, body, _ = _post(url + "cut.png", truncated)
    assert status == 400 and "cut.png cannot be decoded" in json.loads(body)["error"]


def test_inpaint_and_its_refusals(ui_server, sample):
    pixels, image_png, mask_png, hole = sample
    status, body, headers = _inpaint(ui_server, image_png, mask_png, "cv2-ns")
    assert status == 200 and float(headers["X-Inpaint-Seconds"]) > 0
    np.testing.assert_array_equal(_decode(body), Inpainter("cv2-ns")(pixels, hole))

    empty = _png(np.zeros(pixels.shape[:2], np.uint8))
    assert _error(_inpaint(ui_server, image_png, empty, "cv2-telea")).startswith(
        "The mask is empty")
    # Under the one mask rule a 0/1 mask means the same hole as the 0/255 one.
    ones = _png(hole.astype(np.uint8))
    status, body, _ = _inpaint(ui_server, image_png, ones, "cv2-ns")
    assert status == 200
    np.testing.assert_array_equal(_decode(body), Inpainter("cv2-ns")(pixels, hole))
    half = _png(np.full((10, 10), 255, np.uint8))
    answer = _inpaint(ui_server, image_png, half, "cv2-telea")
    assert answer[0] == 400
    assert "The mask is 10x10 pixels but the image is 245x320" in _error(answer)
    answer = _inpaint(ui_server, image_png, b"not a png", "cv2-telea")
    assert answer[0] == 400 and _error(answer).startswith("mask: cannot be read as an image")
    answer = _inpaint(ui_server, image_png, mask_png, "lama")
    assert answer[0] == 404 and "Unknown model 'lama'" in _error(answer)
    answer = _inpaint(ui_server, image_png, mask_png, "cv2-telea", strategy="tile")
    assert answer[0] == 400 and "strategy must be one of" in _error(answer)
    answer = _post(ui_server.url + "api/v1/inpaint", b"{not json", "application/json")
    assert answer[0] == 400 and "must be JSON with base64 'image' and 'mask'" in _error(answer)
    # Still serving.
    assert _inpaint(ui_server, image_png, mask_png, "cv2-telea")[0] == 200


def test_crop_strategy_same_as_the_command(ui_server, photos_dir, tmp_path):
    """A 910x512 photo: the crop strategy runs (long side > 800) and matches the CLI's bytes."""
    photo = photos_dir / "val" / "gcompris-bee.jpg"
    pixels = load_image(photo)
    mask = np.zeros(pixels.shape[:2], np.uint8)
    mask[200:370, 70:310] = 255
    mask[40:60, 800:880] = 255
    (tmp_path / "mask.png").write_bytes(_png(mask))
    status, body, _ = _inpaint(ui_server, photo.read_bytes(), _png(mask), "cv2-telea", "crop")
    assert status == 200
    assert main(["inpaint", str(photo), "--mask", str(tmp_path / "mask.png"), "-o",
                 str(tmp_path / "cli.png"), "--strategy", "crop", "--model", "cv2-telea"]) == 0
    assert (tmp_path / "cli.png").read_bytes() == body


class _Slow:
    """A generator that blocks until released: holds the one inference slot."""

    size_multiple = 1

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, inputs, training=False):
        self.started.set()
        assert self.release.wait(60)
        return {"output": np.zeros_like(inputs[0])}


def test_one_inpaint_at_a_time(sample):
    pixels, image_png, mask_png, hole = sample
    slow = _Slow()
    service = InpaintService({"slow": slow, "cv2-telea": "cv2-telea"})
    with UIServer(create_app(service)) as server:
        answers = []
        first = threading.Thread(target=lambda: answers.append(
            _inpaint(server, image_png, mask_png, "slow")))
        first.start()
        assert slow.started.wait(60)
        busy = _inpaint(server, image_png, mask_png, "cv2-telea")
        assert busy[0] == 429 and _error(busy).startswith("Busy: another inpaint has been running")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        assert opener.open(server.url + "api/v1/config").status == 200  # the page still loads
        slow.release.set()
        first.join(60)
        status, body, _ = answers[0]
        assert status == 200
        result = _decode(body)
        np.testing.assert_array_equal(result[~hole], pixels[~hole])
        assert (result[hole] == 0).all()  # the slow model's output, composited
        assert _inpaint(server, image_png, mask_png, "cv2-telea")[0] == 200


def test_served_model_through_grpc_and_when_it_is_down(tmp_path, sample):
    from tests.export.saved_model_test import tiny_generator
    from tfinpaint.export.model_server import ModelServer
    from tfinpaint.export.saved_model import export_saved_model
    from tfinpaint.export.serving import GrpcClient

    pixels, image_png, mask_png, hole = sample
    generator = tiny_generator(8)
    export_saved_model(generator, tmp_path, "tiny", warmup=False)
    model_server = ModelServer(tmp_path, grpc_port=0, rest_port=None, workers=2).start()
    client = GrpcClient(f"127.0.0.1:{model_server.grpc_port}", "tiny", timeout=30, retries=0)
    service = InpaintService(client=client, target="the test server")
    assert service.config()["strategies"] == ["original"]
    assert [m["id"] for m in service.config()["models"]] == ["tiny"]
    try:
        with UIServer(create_app(service)) as server:
            status, body, _ = _inpaint(server, image_png, mask_png, "tiny")
            assert status == 200
            served = _decode(body)
            local = Inpainter(generator)(pixels, hole)  # in process, same weights
            np.testing.assert_array_equal(served[~hole], pixels[~hole])
            assert np.abs(served.astype(int) - local.astype(int)).max() <= 1
            assert _inpaint(server, image_png, mask_png, "tiny", "crop")[0] == 400
            model_server.stop(grace=1)
            down = _inpaint(server, image_png, mask_png, "tiny")
            assert down[0] == 503
            assert _error(down).startswith("The served model 'tiny' at the test server failed: "
                                           "UNAVAILABLE")
    finally:
        model_server.stop(grace=1)
        client.close()


def test_command_line(capsys, tmp_path):
    assert main(["ui", "--server", "127.0.0.1:1"]) == 2
    assert "--server needs --served-model" in capsys.readouterr().err
    assert main(["ui", "--served-model", "x"]) == 2
    assert main(["ui", "--model", str(tmp_path / "missing")]) == 2
    assert "neither a registered model name" in capsys.readouterr().err
    assert main(["ui", "--max-side", "4"]) == 2

    # The real command: serves the page until SIGINT, then exits 0.
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "tfinpaint", "ui", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("tfinpaint ui: serving http://127.0.0.1:"), (line, proc.stderr)
        url = line.split()[3]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        config = json.loads(opener.open(url + "api/v1/config", timeout=30).read())
        assert config["default_model"] == default_model()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
