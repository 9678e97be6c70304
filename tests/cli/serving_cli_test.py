"""``tfinpaint export``, ``tfinpaint serve`` (a real subprocess) and ``tfinpaint predict``.

A tiny generator is registered for the duration of the module and trained weights are faked by
saving its random weights into a run directory (``config.json`` + ``generator.weights.h5``),
so the whole path run dir -> SavedModel -> server -> client runs in seconds. Results are
compared with the numpy reference of the serving signature on a real photo.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from tests.export.saved_model_test import reference, tiny_generator
from tfinpaint.cli import main
from tfinpaint.models import registry

TINY = "_serving_cli_tiny"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory of a registered tiny generator; unregistered afterwards."""
    spec = registry.ModelSpec(name=TINY, builder=lambda: tiny_generator(8), config={},
                              kind="keras", size_multiple=8)
    registry.list_models()  # load the library models first, so ours is only added
    registry.register_model(spec)
    run = tmp_path_factory.mktemp("run")
    model = tiny_generator(8)
    model.save_weights(str(run / "generator.weights.h5"))
    (run / "config.json").write_text(json.dumps({"model": TINY, "config": {}}))
    yield run, model
    registry._REGISTRY.pop(TINY, None)


@pytest.fixture(scope="module")
def photo(photos_dir, tmp_path_factory):
    """A real photo at 48 x 72 and a mask file (white = fill), plus the bool hole."""
    folder = tmp_path_factory.mktemp("inputs")
    src = sorted((photos_dir / "val").glob("*.jpg"))[0]
    image = np.asarray(Image.open(src).convert("RGB").resize((72, 48), Image.Resampling.BICUBIC))
    hole = np.zeros((48, 72), bool)
    hole[10:30, 20:50] = True
    hole[40:, :10] = True
    Image.fromarray(image).save(folder / "photo.png")
    Image.fromarray(hole.astype(np.uint8) * 255).save(folder / "mask.png")
    # The same mask at half size: the CLI resizes it (nearest) to the image.
    Image.fromarray(hole[::2, ::2].astype(np.uint8) * 255).save(folder / "mask_half.png")
    return folder, image, hole


def _want(model, image, hole):
    return reference(model, image[None], hole[None, ..., None].astype(np.uint8), 8)[0]


def _assert_result(path, model, image, hole):
    got = np.asarray(Image.open(path).convert("RGB"))
    want = _want(model, image, hole)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    np.testing.assert_array_equal(got[~hole], image[~hole])


def test_export_run_dir_versions_and_errors(run_dir, tmp_path, capsys):
    run, _ = run_dir
    out = tmp_path / "saved_models"
    assert main(["export", str(run), "--name", "tiny", "--out", str(out)]) == 0
    assert "version 1" in capsys.readouterr().out
    assert main(["export", str(run), "--name", "tiny", "--out", str(out), "--no-warmup"]) == 0
    assert sorted(p.name for p in (out / "tiny").iterdir()) == ["1", "2"]
    info = json.loads((out / "tiny" / "1" / "assets.extra" / "tfinpaint.json").read_text())
    assert info["source"] == str(run) and info["size_multiple"] == 8
    assert not (out / "tiny" / "2" / "assets.extra" / "tf_serving_warmup_requests").exists()
    capsys.readouterr()
    assert main(["export", str(run), "--name", "tiny", "--out", str(out), "--version", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", str(run), "--name", "tiny", "--out", str(out), "--version", "1",
                 "--overwrite"]) == 0
    assert main(["export", str(run), "--name", "tiny", "--out", str(out), "--version", "0"]) == 2
    assert main(["export", str(tmp_path / "nope"), "--name", "x", "--out", str(out)]) == 2
    capsys.readouterr()
    assert main(["export", "cv2-telea", "--name", "x", "--out", str(out)]) == 2
    assert "classical" in capsys.readouterr().err


def test_export_registry_name_warns_random_weights(run_dir, tmp_path, capsys):
    out = tmp_path / "saved_models"
    assert main(["export", TINY, "--name", "rand", "--out", str(out), "--no-warmup"]) == 0
    captured = capsys.readouterr()
    assert "RANDOM, UNTRAINED weights" in captured.err
    assert (out / "rand" / "1" / "saved_model.pb").is_file()


def _tfinpaint_command() -> list[str]:
    script = pathlib.Path(sys.executable).parent / "tfinpaint"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from tfinpaint.cli import main; sys.exit(main())"]


def _read_until(proc, pattern, lines, timeout=180):
    """Reads the server's stdout until a line matches; returns the match."""
    found = {}

    def reader():
        for line in proc.stdout:
            lines.append(line)
            match = re.search(pattern, line)
            if match and "match" not in found:
                found["match"] = match
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    if "match" not in found:
        raise AssertionError(f"server did not print {pattern!r}; output: {''.join(lines)}")
    return found["match"]


def test_serve_subprocess_predict_grpc_rest_and_sigterm(run_dir, photo, tmp_path, capsys):
    run, model = run_dir
    folder, image, hole = photo
    base = tmp_path / "saved_models"
    assert main(["export", str(run), "--name", "tiny", "--out", str(base)]) == 0
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*_tfinpaint_command(), "serve", str(base), "--grpc-port", "0", "--rest-port", "0",
         "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines = []
    try:
        grpc_port = int(_read_until(proc, r"gRPC listening on 127\.0\.0\.1:(\d+)", lines)[1])
        rest_port = int(_read_until(proc, r"REST listening on http://127\.0\.0\.1:(\d+)",
                                    lines)[1])
        _read_until(proc, r"Press Ctrl-C", lines)
        assert any("Serving model 'tiny' versions [1]" in line for line in lines)
        capsys.readouterr()
        for extra, mask in [([], "mask.png"), (["--rest"], "mask_half.png"),
                            (["--version", "1"], "mask.png")]:
            port = rest_port if "--rest" in extra else grpc_port
            out = tmp_path / f"out_{len(extra)}_{mask}"
            assert main(["predict", "--server", f"127.0.0.1:{port}", "--model", "tiny",
                         str(folder / "photo.png"), "--mask", str(folder / mask), "-o", str(out),
                         *extra]) == 0, capsys.readouterr().err
            assert f"Wrote {out}" in capsys.readouterr().out
            _assert_result(out, model, image, hole)
        # Errors from the server: exit 1 with the status and message.
        code = main(["predict", "--server", f"127.0.0.1:{grpc_port}", "--model", "nope",
                     str(folder / "photo.png"), "--mask", str(folder / "mask.png"), "-o",
                     str(tmp_path / "x.png")])
        assert code == 1 and "NOT_FOUND" in capsys.readouterr().err
        assert proc.poll() is None, "the server must survive bad requests"
        # Graceful stop on SIGTERM.
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        lines.append(rest)
        assert proc.returncode == 0, "".join(lines)
        assert "Received SIGTERM" in rest and "Server stopped." in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_predict_input_errors_and_unreachable_server(photo, tmp_path, capsys):
    folder, _, _ = photo
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["predict", "--server", f"127.0.0.1:{port}", "--model", "tiny",
            str(folder / "photo.png"), "-o", str(tmp_path / "o.png"), "--retries", "1"]
    start = time.monotonic()
    assert main([*args, "--mask", str(folder / "mask.png")]) == 1
    assert "UNAVAILABLE" in capsys.readouterr().err and time.monotonic() - start < 30
    assert main([*args, "--mask", str(folder / "missing.png")]) == 2
    assert "missing.png" in capsys.readouterr().err
    assert main([*args[:-4], "-o", str(tmp_path / "o.txt"), "--mask",
                 str(folder / "mask.png")]) == 2
    assert main(["serve", str(tmp_path / "empty_base")]) == 2
    assert "MODEL_BASE" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["serve", str(tmp_path / "empty"), "--grpc-port", "0", "--rest-port", "0"]) == 2
    assert "No servable model" in capsys.readouterr().err
