"""Screenshot of ``tfinpaint ui`` with a result, for the README (``docs/ui.jpg``).

Starts the page on 127.0.0.1, opens a real photo in Debian's Chromium (headless, through
Playwright), brushes over the bee with mouse events, inpaints with the default model and saves
the screenshot::

    python scripts/ui_screenshot.py docs/ui.jpg [--photo ../shared/data/photos/val/gcompris-bee.jpg]
"""

from __future__ import annotations

import argparse
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
PHOTO = REPO.parent / "shared" / "data" / "photos" / "val" / "gcompris-bee.jpg"
# Zigzag over the bee of gcompris-bee.jpg (910x512), image pixels.
STROKE = [(70, 215), (300, 215), (300, 260), (60, 250), (90, 300), (250, 300), (240, 355),
          (90, 350)]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=pathlib.Path, help="screenshot file (.jpg or .png)")
    parser.add_argument("--photo", type=pathlib.Path, default=PHOTO)
    parser.add_argument("--brush", type=int, default=64, help="brush size in image pixels")
    args = parser.parse_args()

    from PIL import Image
    from playwright.sync_api import sync_playwright

    from tfinpaint.ui import InpaintService, UIServer, create_app

    with Image.open(args.photo) as im:
        width, height = im.size
    with UIServer(create_app(InpaintService())) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 660})
        page.goto(server.url)
        page.wait_for_function("document.querySelector('#model').options.length > 0")
        page.set_input_files("#file", str(args.photo))
        page.wait_for_function("document.querySelector('#info').textContent.length > 0")
        page.locator("#size").fill(str(args.brush))
        box = page.locator("#mask-canvas").bounding_box()

        def at(x, y):
            return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height

        page.mouse.move(*at(*STROKE[0]))
        page.mouse.down()
        for point in STROKE[1:]:
            page.mouse.move(*at(*point), steps=12)
        page.mouse.up()
        page.click("#inpaint")
        page.wait_for_selector("#download", state="visible")
        page.mouse.move(*at(620, 420))  # the brush cursor, away from the result
        args.output.parent.mkdir(parents=True, exist_ok=True)
        jpeg = args.output.suffix.lower() in (".jpg", ".jpeg")
        page.screenshot(path=str(args.output), type="jpeg" if jpeg else "png",
                        **({"quality": 82} if jpeg else {}))
        browser.close()
    print(f"Wrote {args.output} ({args.output.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
