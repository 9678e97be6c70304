"""``tfinpaint ui``: a local web page to brush a mask over a photo and inpaint it.

The server (:mod:`tfinpaint.ui.app`) is a Starlette application run by uvicorn, the ASGI stack
IOPaint's FastAPI backend also runs on. The page is plain HTML, CSS and JavaScript shipped in
``tfinpaint/ui/static`` (no build step, nothing fetched from outside the machine).

Example:
```python
from tfinpaint.ui import InpaintService, UIServer, create_app
with UIServer(create_app(InpaintService(["cv2-telea"]))) as server:
    print("open", server.url)
```
"""

from tfinpaint.ui.app import (
    InpaintService,
    UIError,
    UIServer,
    create_app,
    default_model,
)

__all__ = ["InpaintService", "UIError", "UIServer", "create_app", "default_model"]
