"""The server behind ``tfinpaint ui``: a Starlette app run by uvicorn.

Routes (IOPaint's FastAPI backend keeps its API under ``/api/v1`` too):

- ``GET /``: the page (``static/index.html``); ``/static/*``: its script and style sheet.
- ``GET /api/v1/config``: the models the page may choose (the first is the default), the
  high-resolution strategies, the image size limit and where the work runs.
- ``POST /api/v1/image?name=FILE`` with the file's bytes: the image decoded exactly as
  ``tfinpaint inpaint`` reads a file (:func:`tfinpaint.data.images.image_from_bytes`: RGB,
  alpha over white), returned as a PNG. The page paints over these pixels and sends them back,
  so what the user sees is what the model gets, and ``tfinpaint inpaint`` on the original file
  gives the same pixels.
- ``POST /api/v1/inpaint`` with JSON ``{"image": b64 PNG/JPEG, "mask": b64 PNG, "model": id,
  "strategy": "original"|"resize"|"crop"}``: the result as a PNG, with the timing in the
  ``X-Inpaint-Seconds`` header (``X-Load-Seconds`` when the model was loaded by this request).

The mask is the page's drawing, white (255) = area to fill, black (0) = keep. It is read like a
mask file (:func:`tfinpaint.cli.inpaint.read_mask`) and binarized by the one user-mask rule,
:func:`tfinpaint.data.polarity.hole_from_user_mask`, inside :class:`tfinpaint.inference.Inpainter`
(local models) or before :meth:`tfinpaint.export.serving.GrpcClient.predict` (``--server``).
Known pixels of the result are the input's, bit for bit (``Inpainter``'s composite).

Errors are JSON ``{"error": message}`` with an HTTP status: 400 bad image or mask, 404 unknown
model, 413 image or upload over the limit, 429 another inpaint is running (one model call at a
time, the second request is refused, never queued behind a long one), 500 the model failed to
load or run, 503 the served model cannot be reached. The server keeps serving after any of them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import io
import json
import logging
import os
import pathlib
import socket
import threading
import time
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_SIDE",
    "DEFAULT_PORT",
    "InpaintService",
    "UIError",
    "UIServer",
    "create_app",
    "default_model",
]

logger = logging.getLogger(__name__)

STATIC_DIR = pathlib.Path(__file__).resolve().parent / "static"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860  # IOPaint's and Gradio's port
#: Long side, in pixels, above which an image is refused (``tfinpaint ui --max-side``).
DEFAULT_MAX_SIDE = 4096
#: Largest request body accepted (a base64 JSON inpaint request of a max-side PNG fits).
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
STRATEGIES = ("original", "resize", "crop")


class UIError(Exception):
    """A request the server refuses: ``status`` is the HTTP status, ``message`` the page's text."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def default_model() -> str:
    """The model ``tfinpaint inpaint`` uses when ``--model`` is not given.

    Read from that command's parser, so the page and the command share one default.
    """
    import argparse

    from tfinpaint.cli import inpaint

    return inpaint.add_parser(argparse.ArgumentParser().add_subparsers()).get_default("model")


@dataclasses.dataclass
class _Choice:
    id: str  # what the page sends back
    label: str
    source: object  # a name or path for `load`, or a generator object
    note: str = ""


def _describe(source) -> tuple[str, str]:
    """``(label, note)`` of a model given as a name or path."""
    from tfinpaint.inference import RUN_CONFIG
    from tfinpaint.models import registry

    text = os.fspath(source)
    path = pathlib.Path(text)
    if text in registry.list_models() and not (path / RUN_CONFIG).is_file():
        if registry.get_spec(text).kind == "keras":
            return text, "registered network with RANDOM, untrained weights: its output is noise"
        return text, "classical method (no weights)"
    config = path / RUN_CONFIG if path.is_dir() else path.parent / RUN_CONFIG
    try:
        name = json.loads(config.read_text()).get("model", "?")
    except (OSError, ValueError, AttributeError):
        name = "?"
    return f"{path.name or text} ({name})", f"run directory / weights file {text}"


class InpaintService:
    """What the page's requests do, independent of the web framework.

    Args:
        models: the models to offer, first = default: registry names, run directories or weights
            files (anything :func:`tfinpaint.inference.load` takes), or a ``{id: generator}``
            mapping of objects already built. ``None``: :func:`default_model`. The classical
            baselines (``cv2-telea``, ``cv2-ns``) are always added. Ignored with ``client``.
        client: a :class:`~tfinpaint.export.serving.GrpcClient` or
            :class:`~tfinpaint.export.serving.RestClient`: every inpaint is sent to that served
            model instead (the model id is its name; the strategy is the server's, "original").
        max_side: images whose long side exceeds it are refused. Defaults to ``4096``.
        target: text naming the served endpoint, shown on the page.

    Models are loaded on first use and kept; a model that fails to load is reported to the page
    (and retried on the next request). One model call runs at a time.
    """

    def __init__(self, models=None, client=None, max_side: int = DEFAULT_MAX_SIDE,
                 target: str | None = None):
        if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 8:
            raise ValueError(f"max_side must be an integer >= 8. Received: max_side={max_side!r}")
        self.max_side = max_side
        self.client = client
        self.target = target
        self._lock = threading.Lock()
        self._busy_since: float | None = None
        self._loaded: dict[str, object] = {}
        self.choices: dict[str, _Choice] = {}
        if client is not None:
            name = client.model_name
            where = target or getattr(client, "target", "")
            self.choices[name] = _Choice(name, f"{name} (served)", None, f"served at {where}")
            return
        from tfinpaint.models import registry

        if models is None:
            models = [default_model()]
        if isinstance(models, dict):
            for key, model in models.items():
                self.choices[str(key)] = _Choice(str(key), str(key), model, "")
        else:
            for source in models:
                key = os.fspath(source)
                label, note = _describe(source)
                self.choices.setdefault(key, _Choice(key, label, key, note))
        for name in registry.list_models(kind="classical"):
            if name not in self.choices:
                self.choices[name] = _Choice(name, name, name, _describe(name)[1])

    # ---- page configuration ----------------------------------------------------------------

    def config(self) -> dict:
        served = self.client is not None
        return {
            "models": [{"id": c.id, "label": c.label, "note": c.note}
                       for c in self.choices.values()],
            "default_model": next(iter(self.choices)),
            "strategies": ["original"] if served else list(STRATEGIES),
            "max_side": self.max_side,
            "backend": (f"served model {self.client.model_name} at "
                        f"{self.target or getattr(self.client, 'target', '')}"
                        if served else "this machine (in process)"),
        }

    # ---- image ---------------------------------------------------------------------------

    def check_size(self, data: bytes, name: str) -> None:
        """Refuses an image whose long side exceeds ``max_side`` (read from its header only)."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
        except Image.DecompressionBombError as e:
            raise UIError(413, f"{name}: the image is too large ({e}); this server accepts "
                               f"images up to {self.max_side} pixels on the long side "
                               "(tfinpaint ui --max-side).") from None
        except Exception:  # noqa: BLE001 - not readable by Pillow: the decoder names the problem
            return
        if max(width, height) > self.max_side:
            raise UIError(413, f"{name}: the image is {width}x{height} pixels; this server accepts "
                               f"images up to {self.max_side} pixels on the long side "
                               "(tfinpaint ui --max-side). Downscale it first.")

    def decode_image(self, data: bytes, name: str = "image") -> np.ndarray:
        """uint8 RGB ``(H, W, 3)``, decoded as ``tfinpaint inpaint`` reads an image file."""
        from tfinpaint.data.images import image_from_bytes

        if not data:
            raise UIError(400, f"{name}: the file is empty.")
        self.check_size(data, name)
        try:
            return image_from_bytes(data, name)
        except ValueError as e:
            raise UIError(400, str(e)) from None

    def open_image(self, data: bytes, name: str = "image") -> bytes:
        """The image as the models see it, as PNG bytes (``POST /api/v1/image``)."""
        return _encode_png(self.decode_image(data, name))

    # ---- inpaint -------------------------------------------------------------------------

    def read_mask(self, data: bytes) -> np.ndarray:
        from tfinpaint.cli import CLIError
        from tfinpaint.cli.inpaint import read_mask

        if not data:
            raise UIError(400, "mask: the mask file is empty.")
        try:
            return read_mask(io.BytesIO(data), name="mask")
        except CLIError as e:
            raise UIError(400, str(e)) from None

    def inpaint(self, image_data: bytes, mask_data: bytes, model: str | None = None,
                strategy: str = "original") -> tuple[bytes, dict]:
        """Runs one inpaint; returns ``(PNG bytes, timings)``. Raises :class:`UIError`."""
        from tfinpaint.data.polarity import hole_from_user_mask

        model = model or next(iter(self.choices))
        if model not in self.choices:
            raise UIError(404, f"Unknown model {model!r}. This server offers: "
                               f"{', '.join(self.choices)}.")
        if strategy not in STRATEGIES or (self.client is not None and strategy != "original"):
            allowed = self.config()["strategies"]
            raise UIError(400, f"strategy must be one of {allowed}. Received: {strategy!r}")
        image = self.decode_image(image_data)
        mask = self.read_mask(mask_data)
        hole = hole_from_user_mask(mask)[..., 0] > 0.5
        if not hole.any():
            raise UIError(400, "The mask is empty: brush over the area to fill (white = fill) "
                               "before pressing Inpaint.")
        if hole.shape != image.shape[:2]:
            mh, mw = hole.shape
            raise UIError(400, f"The mask is {mw}x{mh} pixels but the image is "
                               f"{image.shape[1]}x{image.shape[0]}; they must match.")
        if not self._lock.acquire(blocking=False):
            since = time.monotonic() - (self._busy_since or time.monotonic())
            raise UIError(429, f"Busy: another inpaint has been running for {since:.1f} s. "
                               "One runs at a time; try again when it has finished.")
        try:
            self._busy_since = time.monotonic()
            if self.client is not None:
                result, timings = self._run_served(image, hole)
            else:
                result, timings = self._run_local(model, strategy, image, mask)
        finally:
            self._busy_since = None
            self._lock.release()
        return _encode_png(result), timings

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def _load(self, model: str):
        choice = self.choices[model]
        if model in self._loaded:
            return self._loaded[model], 0.0
        if not isinstance(choice.source, (str, os.PathLike)):
            self._loaded[model] = choice.source
            return choice.source, 0.0
        from tfinpaint.inference import load

        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # random weights: noted on the page
                loaded = load(choice.source)
        except Exception as e:  # noqa: BLE001 - any load failure is reported, the server goes on
            logger.exception("Loading model %s failed", model)
            raise UIError(500, f"Model {model!r} could not be loaded: "
                               f"{type(e).__name__}: {e}") from None
        self._loaded[model] = loaded
        return loaded, time.perf_counter() - start

    def _run_local(self, model: str, strategy: str, image: np.ndarray, mask: np.ndarray):
        from tfinpaint.inference import Inpainter

        generator, load_seconds = self._load(model)
        start = time.perf_counter()
        try:
            # The same Inpainter (and defaults) as `tfinpaint inpaint --strategy S`.
            inpainter = Inpainter(generator, strategy=strategy)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                result = inpainter(image, mask)
        except Exception as e:  # noqa: BLE001
            logger.exception("Inpainting with %s failed", model)
            raise UIError(500, f"Inpainting with {model!r} failed: "
                               f"{type(e).__name__}: {e}") from None
        timings = {"inpaint_seconds": time.perf_counter() - start}
        if load_seconds:
            timings["load_seconds"] = load_seconds
        return result, timings

    def _run_served(self, image: np.ndarray, hole: np.ndarray):
        from tfinpaint.export.serving import ServingError

        start = time.perf_counter()
        try:
            result = self.client.predict(image, hole)
        except ServingError as e:
            status = 503 if e.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED") else 502
            raise UIError(status, f"The served model {self.client.model_name!r} at "
                                  f"{self.target or e.target} failed: {e}") from None
        return result, {"inpaint_seconds": time.perf_counter() - start}


def _encode_png(array: np.ndarray) -> bytes:
    """uint8 RGB -> PNG bytes, as ``tfinpaint inpaint -o out.png`` writes them."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Web app
# --------------------------------------------------------------------------------------------


def create_app(service: InpaintService):
    """The Starlette application serving the page and its API over ``service``."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def body(request, limit: int = MAX_UPLOAD_BYTES) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise UIError(413, f"The upload is {int(length) / 2**20:.0f} MiB; this server "
                               f"accepts at most {limit / 2**20:.0f} MiB per request.")
        data = await request.body()
        if len(data) > limit:
            raise UIError(413, f"The upload exceeds {limit / 2**20:.0f} MiB.")
        return data

    async def index(request):
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    async def config(request):
        return JSONResponse(service.config())

    async def open_image(request):
        name = request.query_params.get("name") or "image"
        try:
            data = await body(request)
            png = await run_in_threadpool(service.open_image, data, name)
        except UIError as e:
            return error(e.status, e.message)
        except Exception as e:  # noqa: BLE001 - the page shows it, the server goes on
            logger.exception("Opening %s failed", name)
            return error(500, f"{name}: {type(e).__name__}: {e}")
        return Response(png, media_type="image/png")

    async def inpaint(request):
        try:
            raw = await body(request)
            try:
                payload = json.loads(raw)
                image = base64.b64decode(payload["image"], validate=True)
                mask = base64.b64decode(payload["mask"], validate=True)
            except (ValueError, KeyError, TypeError, binascii.Error) as e:
                raise UIError(400, "The request must be JSON with base64 'image' and 'mask' "
                                   f"files ({type(e).__name__}: {e}).") from None
            model = payload.get("model")
            strategy = payload.get("strategy") or "original"
            png, timings = await run_in_threadpool(service.inpaint, image, mask, model, strategy)
        except UIError as e:
            return error(e.status, e.message)
        except Exception as e:  # noqa: BLE001
            logger.exception("Inpaint request failed")
            return error(500, f"Inpainting failed: {type(e).__name__}: {e}")
        headers = {"X-Inpaint-Seconds": f"{timings['inpaint_seconds']:.4f}"}
        if "load_seconds" in timings:
            headers["X-Load-Seconds"] = f"{timings['load_seconds']:.4f}"
        return Response(png, media_type="image/png", headers=headers)

    routes = [
        Route("/", index),
        Route("/api/v1/config", config),
        Route("/api/v1/image", open_image, methods=["POST"]),
        Route("/api/v1/inpaint", inpaint, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.service = service
    return app


class UIServer:
    """Runs an app with uvicorn on a background thread (tests, notebooks); a context manager.

    Args:
        app: the ASGI app (:func:`create_app`).
        host: address to bind. Defaults to ``127.0.0.1``.
        port: port to bind; ``0`` (default) picks a free one (see :attr:`port`).
    """

    def __init__(self, app, host: str = DEFAULT_HOST, port: int = 0):
        import uvicorn

        self.host = host
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._socket]},
                                        name="tfinpaint-ui", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self, timeout: float = 30.0) -> UIServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The UI server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> UIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
