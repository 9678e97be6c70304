"""``tfinpaint ui`` in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

A real photo is opened through the file picker, a stroke is brushed with mouse events, and the
page inpaints with ``cv2-telea`` and then, on the result, with a registered network (a small
``pconv_unet`` run directory). Each returned image is checked (size, known pixels bit for bit,
hole changed) and compared, byte for byte, with ``tfinpaint inpaint`` run on the same image,
the mask the page sent and the same model. Undo, redo, download and the error messages shown
on the page are exercised too.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from tfinpaint.cli import main
from tfinpaint.cli.inpaint import read_mask
from tfinpaint.data.images import load_image
from tfinpaint.data.polarity import hole_from_user_mask

pytestmark = pytest.mark.large


def _png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _open_page(browser, server):
    page = browser.new_page(viewport={"width": 1000, "height": 760}, accept_downloads=True)
    page.goto(server.url)
    page.wait_for_function("document.querySelector('#model').options.length > 0")
    return page


def _open_file(page, path):
    page.set_input_files("#file", str(path))


def _wait_opened(page, name):
    page.wait_for_function(f"document.querySelector('#info').textContent.startsWith({name!r})")


def _brush(page, points, size, height, width):
    """Brushes a stroke through image coordinates ``points`` ((x, y), image pixels)."""
    page.locator("#size").fill(str(size))
    assert page.locator("#size-value").text_content() == str(size)
    box = page.locator("#mask-canvas").bounding_box()

    def at(x, y):
        return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height

    page.mouse.move(*at(*points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*at(*point), steps=8)
    page.mouse.up()


def _inpaint(page, model, strategy="original"):
    """Clicks Inpaint with ``model``; returns (sent image PNG, sent mask PNG, result PNG)."""
    page.select_option("#model", model)
    page.select_option("#strategy", strategy)
    with page.expect_request("**/api/v1/inpaint") as request:
        page.click("#inpaint")
    body = json.loads(request.value.post_data)
    assert body["model"] == model and body["strategy"] == strategy
    page.wait_for_selector("#busy", state="hidden")
    page.wait_for_selector("#download", state="visible")
    assert page.locator("#message").is_hidden(), page.locator("#message").text_content()
    with page.expect_download() as download:
        page.click("#download")
    result = download.value
    assert result.suggested_filename.endswith("_inpainted.png")
    with open(result.path(), "rb") as f:
        png = f.read()
    return base64.b64decode(body["image"]), base64.b64decode(body["mask"]), png


def _canvas(page, selector) -> np.ndarray:
    """The RGBA pixels of a canvas of the page (read back as a PNG, which is lossless)."""
    url = page.evaluate("(sel) => document.querySelector(sel).toDataURL('image/png')", selector)
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as im:
        return np.asarray(im.convert("RGBA"))


def _check_result(result, before, hole):
    assert result.shape == before.shape
    np.testing.assert_array_equal(result[~hole], before[~hole])  # known pixels, bit for bit
    changed = np.any(result[hole] != before[hole], axis=-1).mean()
    assert changed > 0.5, changed


def _same_as_cli(tmp_path, image_file, mask_png, model, result_png, tag):
    mask_file = tmp_path / f"{tag}_mask.png"
    mask_file.write_bytes(mask_png)
    out = tmp_path / f"{tag}_cli.png"
    assert main(["inpaint", str(image_file), "--mask", str(mask_file), "-o", str(out),
                 "--model", str(model)]) == 0
    assert out.read_bytes() == result_png  # byte-identical PNG


def test_brush_inpaint_iterate_undo_download(browser, ui_server, photo, tiny_run, tmp_path):
    photo_pixels = load_image(photo)
    height, width = photo_pixels.shape[:2]
    page = _open_page(browser, ui_server)
    assert page.locator("#model").input_value() == str(tiny_run)  # the first --model
    _open_file(page, photo)
    _wait_opened(page, photo.name)
    assert page.locator("#info").text_content().endswith("area to fill 0 px (0.0 %)")

    # 1. A stroke over the bucket, inpainted with OpenCV Telea.
    _brush(page, [(60, 90), (120, 140), (180, 150)], 18, height, width)
    image_png, mask_png, result_png = _inpaint(page, "cv2-telea")
    np.testing.assert_array_equal(_png(image_png), photo_pixels)  # the pixels the CLI reads
    mask = read_mask(io.BytesIO(mask_png))
    assert mask.shape[:2] == (height, width)
    assert set(np.unique(mask[..., :3])) == {0, 255}  # sent as drawn: white = fill, no grey
    hole1 = hole_from_user_mask(mask)[..., 0] > 0.5
    assert hole1[90, 60] and hole1[140, 120] and hole1[150, 180] and not hole1[10, 10]
    assert 1500 < hole1.sum() < 6000, hole1.sum()
    result1 = _png(result_png)
    _check_result(result1, photo_pixels, hole1)
    _same_as_cli(tmp_path, photo, mask_png, "cv2-telea", result_png, "telea")
    assert page.locator("#latency").text_content().startswith("cv2-telea: ")
    np.testing.assert_array_equal(_canvas(page, "#image-canvas")[..., :3], result1)
    assert not _canvas(page, "#mask-canvas")[..., 3].any()  # the mask starts empty again
    result1_file = tmp_path / "result1.png"
    result1_file.write_bytes(result_png)

    # 2. The result is the next input: another stroke, inpainted with the network run.
    _brush(page, [(200, 40), (200, 110)], 24, height, width)
    image_png, mask_png, result_png = _inpaint(page, str(tiny_run))
    np.testing.assert_array_equal(_png(image_png), result1)
    hole2 = hole_from_user_mask(read_mask(io.BytesIO(mask_png)))[..., 0] > 0.5
    assert not (hole1 & hole2).any() and hole2[70, 200]
    _check_result(_png(result_png), result1, hole2)
    _same_as_cli(tmp_path, result1_file, mask_png, tiny_run, result_png, "network")

    # Before/after compare shows the input over the left part of the result.
    page.locator("#compare").fill("50")
    assert page.locator("#before-canvas").is_visible()
    np.testing.assert_array_equal(_canvas(page, "#before-canvas")[..., :3], result1)

    # 3. Undo: before the network inpaint (result 1 + stroke 2), before stroke 2, before the
    # first inpaint (the photo + stroke 1); redo comes back.
    page.click("#undo")
    assert page.locator("#download").is_visible()  # result 1 is a result too
    np.testing.assert_array_equal(_canvas(page, "#image-canvas")[..., :3], result1)
    np.testing.assert_array_equal(_canvas(page, "#mask-canvas")[..., 3] > 0, hole2)
    page.keyboard.press("Control+z")
    assert not _canvas(page, "#mask-canvas")[..., 3].any()
    page.click("#undo")
    np.testing.assert_array_equal(_canvas(page, "#image-canvas")[..., :3], photo_pixels)
    np.testing.assert_array_equal(_canvas(page, "#mask-canvas")[..., 3] > 0, hole1)
    assert page.locator("#download").is_hidden()  # the photo itself is no result
    assert f"area to fill {int(hole1.sum())} px" in page.locator("#info").text_content()
    page.click("#undo")  # before stroke 1: the start of the history
    assert page.locator("#undo").is_disabled()
    assert page.locator("#info").text_content().endswith("area to fill 0 px (0.0 %)")
    for _ in range(3):
        page.click("#redo")  # result 1 with stroke 2
    np.testing.assert_array_equal(_canvas(page, "#image-canvas")[..., :3], result1)
    np.testing.assert_array_equal(_canvas(page, "#mask-canvas")[..., 3] > 0, hole2)

    # Invert and clear the mask; the eraser removes what the brush painted.
    page.keyboard.press("i")
    np.testing.assert_array_equal(_canvas(page, "#mask-canvas")[..., 3] > 0, ~hole2)
    page.click("#clear")
    assert not _canvas(page, "#mask-canvas")[..., 3].any()
    _brush(page, [(100, 100), (140, 100)], 20, height, width)
    page.click("#eraser")
    _brush(page, [(90, 100), (150, 100)], 40, height, width)
    assert not _canvas(page, "#mask-canvas")[..., 3].any()
    page.close()


def test_errors_are_shown_on_the_page(browser, ui_server, photo, broken_run, tmp_path):
    page = _open_page(browser, ui_server)
    message = page.locator("#message")

    # Not an image.
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not an image")
    _open_file(page, text_file)
    message.wait_for(state="visible")
    assert "notes.txt cannot be decoded" in message.text_content()

    # Over the size limit (this server: 1024 px on the long side).
    huge = tmp_path / "wide.png"
    Image.new("RGB", (1100, 40), (90, 120, 150)).save(huge)
    _open_file(page, huge)
    page.wait_for_function("document.querySelector('#message').textContent.includes('1100x40')")
    assert "up to 1024 pixels on the long side" in message.text_content()

    # Empty mask, then a model whose weights cannot be loaded: the page says so and the server
    # keeps serving the next request.
    _open_file(page, photo)
    _wait_opened(page, photo.name)
    assert message.is_hidden()
    page.click("#inpaint")
    assert "The mask is empty" in message.text_content()
    height, width = load_image(photo).shape[:2]
    _brush(page, [(50, 50), (80, 80)], 12, height, width)
    page.select_option("#model", str(broken_run))
    page.click("#inpaint")
    page.wait_for_function("document.querySelector('#message').textContent.includes('loaded')")
    assert f"Model {str(broken_run)!r} could not be loaded" in message.text_content()
    assert page.locator("#download").is_hidden()
    _inpaint(page, "cv2-telea")
    page.close()


def test_drop_paste_shortcuts_and_busy_indicator(browser, ui_server, photo, tmp_path):
    page = _open_page(browser, ui_server)
    pixels = load_image(photo)
    small = pixels[::4, ::4].copy()  # 62x80
    for event, name in (("drop", "dropped.png"), ("paste", "pasted.png")):
        data = base64.b64encode(_png_bytes(small if event == "drop" else pixels)).decode()
        page.evaluate(
            """([event, name, data]) => {
                 const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                 const transfer = new DataTransfer();
                 transfer.items.add(new File([bytes], name, {type: 'image/png'}));
                 const e = event === 'drop'
                   ? new DragEvent('drop', {dataTransfer: transfer, bubbles: true})
                   : new ClipboardEvent('paste', {clipboardData: transfer, bubbles: true});
                 document.querySelector('#stage').dispatchEvent(e);
               }""",
            [event, name, data],
        )
        _wait_opened(page, name)
    np.testing.assert_array_equal(_canvas(page, "#image-canvas")[..., :3], pixels)

    # Brush size: ] and [ step by 10 %, the wheel over the image scales it.
    page.locator("#size").fill("40")
    page.keyboard.press("]")
    assert page.locator("#size-value").text_content() == "44"
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert int(page.locator("#size-value").text_content()) < 40
    box = page.locator("#mask-canvas").bounding_box()
    page.mouse.move(box["x"] + 50, box["y"] + 50)
    before = int(page.locator("#size-value").text_content())
    page.mouse.wheel(0, -100)
    page.wait_for_function(f"Number(document.querySelector('#size-value').textContent) > {before}")
    assert page.locator("#cursor").is_visible()

    # The busy indicator shows, and Inpaint is disabled, while the request runs.
    page.evaluate(
        """() => { window.seen = {busy: false, disabled: false};
             const busy = document.querySelector('#busy');
             const button = document.querySelector('#inpaint');
             new MutationObserver(() => {
               if (!busy.hidden) window.seen.busy = true;
               if (button.disabled) window.seen.disabled = true;
             }).observe(document.body, {attributes: true, subtree: true}); }"""
    )
    height, width = pixels.shape[:2]
    _brush(page, [(100, 100), (130, 120)], 10, height, width)
    page.keyboard.press("b")  # brush again (it was), then Enter inpaints
    page.keyboard.press("Enter")
    page.wait_for_selector("#download", state="visible")
    assert page.evaluate("window.seen") == {"busy": True, "disabled": True}
    assert page.locator("#busy").is_hidden() and page.locator("#inpaint").is_enabled()
    page.close()


def _png_bytes(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()
