// tfinpaint ui: brush a mask over an image and inpaint it. Plain JavaScript, no build step.
//
// The image shown is the PNG the server decoded (POST /api/v1/image), so the pixels under the
// brush are the pixels the model gets. The mask is kept as one byte per image pixel (1 = fill)
// and stamped with hard-edged discs, so the PNG sent is exactly what is shown: white (255) =
// area to fill, black (0) = keep, no antialiased grey. The server binarizes it with the
// library's one user-mask rule.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    file: $("file"), model: $("model"), strategy: $("strategy"), inpaint: $("inpaint"),
    busy: $("busy"), latency: $("latency"), brush: $("brush"), eraser: $("eraser"),
    size: $("size"), sizeValue: $("size-value"), undo: $("undo"), redo: $("redo"),
    clear: $("clear"), invert: $("invert"), compareBox: $("compare-box"), compare: $("compare"),
    download: $("download"), message: $("message"), stage: $("stage"),
    placeholder: $("placeholder"), wrap: $("canvas-wrap"), imageCanvas: $("image-canvas"),
    beforeCanvas: $("before-canvas"), maskCanvas: $("mask-canvas"), cursor: $("cursor"),
    info: $("info"), backend: $("backend"),
  };
  const HISTORY_LIMIT = 50; // steps, and at most HISTORY_BYTES of mask copies
  const HISTORY_BYTES = 256 * 1024 * 1024;
  const MASK_RGBA = [170, 60, 255, 140]; // overlay colour of the area to fill

  const state = {
    image: null, // {blob, bitmap, width, height, name}: the current input
    mask: null, // Uint8Array(width * height), 1 = fill
    before: null, // the image the last inpaint started from (before/after compare)
    result: null, // {blob, url} when the current image is an inpaint result
    undo: [],
    redo: [],
    tool: "brush",
    size: 40,
    busy: false,
    drawing: null, // {x, y} of the last stamp while the pointer is down
  };
  let overlay = null; // ImageData of the mask canvas
  let config = null;

  // ---- messages -------------------------------------------------------------------------

  function showMessage(text, kind = "error") {
    el.message.textContent = text;
    el.message.className = kind === "error" ? "" : kind;
    el.message.hidden = false;
  }

  function clearMessage() {
    el.message.hidden = true;
    el.message.textContent = "";
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && body.error) return body.error;
    } catch (e) {
      // not JSON: fall through
    }
    return `The server answered ${response.status} ${response.statusText}.`;
  }

  // ---- configuration ------------------------------------------------------------------

  async function loadConfig() {
    try {
      const response = await fetch("/api/v1/config");
      config = await response.json();
    } catch (e) {
      showMessage(`Cannot reach the tfinpaint server: ${e.message}`);
      return;
    }
    el.model.replaceChildren();
    for (const m of config.models) {
      const option = new Option(m.label, m.id, false, m.id === config.default_model);
      option.title = m.note;
      el.model.append(option);
    }
    el.strategy.replaceChildren(...config.strategies.map((s) => new Option(s, s)));
    el.strategy.disabled = config.strategies.length < 2;
    el.backend.textContent = `Inpainting on ${config.backend}; images up to ` +
      `${config.max_side} px on the long side.`;
    showModelNote();
  }

  function showModelNote() {
    const m = config && config.models.find((x) => x.id === el.model.value);
    el.model.title = m ? m.note : "";
    if (m && m.note.includes("RANDOM")) showMessage(`${m.label}: ${m.note}.`, "info");
    else if (el.message.className === "info") clearMessage();
  }

  // ---- images ---------------------------------------------------------------------------

  async function makeImage(blob, name) {
    const bitmap = await createImageBitmap(blob);
    return { blob, bitmap, width: bitmap.width, height: bitmap.height, name };
  }

  async function openFile(file) {
    if (!file || state.busy) return;
    clearMessage();
    const name = file.name || "pasted.png";
    let response;
    try {
      response = await fetch(`/api/v1/image?name=${encodeURIComponent(name)}`,
        { method: "POST", body: file });
    } catch (e) {
      showMessage(`Cannot reach the tfinpaint server: ${e.message}`);
      return;
    }
    if (!response.ok) {
      showMessage(await errorText(response));
      return;
    }
    let image;
    try {
      image = await makeImage(await response.blob(), name);
    } catch (e) {
      showMessage(`${name}: the browser cannot display the decoded image (${e.message}).`);
      return;
    }
    state.undo = [];
    state.redo = [];
    state.before = null;
    setResult(null);
    setImage(image, new Uint8Array(image.width * image.height));
    el.latency.textContent = "";
  }

  function setImage(image, mask) {
    const sizeChanged = !state.image || state.image.width !== image.width ||
      state.image.height !== image.height;
    state.image = image;
    state.mask = mask;
    if (sizeChanged) {
      for (const c of [el.imageCanvas, el.beforeCanvas, el.maskCanvas]) {
        c.width = image.width;
        c.height = image.height;
      }
      overlay = el.maskCanvas.getContext("2d").createImageData(image.width, image.height);
    }
    el.imageCanvas.getContext("2d").drawImage(image.bitmap, 0, 0);
    el.placeholder.hidden = true;
    el.wrap.hidden = false;
    renderMask();
    layout();
    update();
  }

  function layout() {
    if (!state.image) return;
    const { width, height } = state.image;
    const availW = el.stage.clientWidth - 20;
    const availH = el.stage.clientHeight - 20;
    const scale = Math.min(1, availW / width, availH / height);
    el.wrap.style.width = `${Math.max(1, Math.floor(width * scale))}px`;
    el.wrap.style.height = `${Math.max(1, Math.floor(height * scale))}px`;
  }

  // ---- mask -----------------------------------------------------------------------------

  function renderMask(x0 = 0, y0 = 0, x1 = null, y1 = null) {
    const w = state.image.width;
    x1 = x1 === null ? w : x1;
    y1 = y1 === null ? state.image.height : y1;
    if (x1 <= x0 || y1 <= y0) return;
    const data = overlay.data;
    const [r, g, b, a] = MASK_RGBA;
    for (let y = y0; y < y1; y++) {
      for (let x = x0, i = y * w + x0; x < x1; x++, i++) {
        const o = i * 4;
        if (state.mask[i]) {
          data[o] = r; data[o + 1] = g; data[o + 2] = b; data[o + 3] = a;
        } else {
          data[o + 3] = 0;
        }
      }
    }
    el.maskCanvas.getContext("2d").putImageData(overlay, 0, 0, x0, y0, x1 - x0, y1 - y0);
  }

  // Sets every pixel whose centre lies within the brush disc (at least the pixel under the
  // pointer); returns the changed rectangle [x0, y0, x1, y1).
  function stamp(cx, cy, value) {
    const { width: w, height: h } = state.image;
    const r = state.size / 2;
    const r2 = Math.max(r * r, 0.5);
    const x0 = Math.max(0, Math.floor(cx - r)), x1 = Math.min(w, Math.ceil(cx + r) + 1);
    const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(h, Math.ceil(cy + r) + 1);
    for (let y = y0; y < y1; y++) {
      const dy = y + 0.5 - cy;
      for (let x = x0; x < x1; x++) {
        const dx = x + 0.5 - cx;
        if (dx * dx + dy * dy <= r2) state.mask[y * w + x] = value;
      }
    }
    return [x0, y0, x1, y1];
  }

  function strokeTo(x, y) {
    const value = state.tool === "brush" ? 1 : 0;
    const from = state.drawing || { x, y };
    const dist = Math.hypot(x - from.x, y - from.y);
    const steps = Math.max(1, Math.ceil(dist / Math.max(0.5, state.size / 4)));
    let box = [Infinity, Infinity, -Infinity, -Infinity];
    for (let s = 1; s <= steps; s++) {
      const t = s / steps;
      const b = stamp(from.x + (x - from.x) * t, from.y + (y - from.y) * t, value);
      box = [Math.min(box[0], b[0]), Math.min(box[1], b[1]),
        Math.max(box[2], b[2]), Math.max(box[3], b[3])];
    }
    state.drawing = { x, y };
    renderMask(...box);
  }

  function maskPixels() {
    let n = 0;
    for (let i = 0; i < state.mask.length; i++) n += state.mask[i];
    return n;
  }

  function clearMask() {
    if (!state.image || state.busy || !maskPixels()) return;
    pushUndo();
    state.mask.fill(0);
    renderMask();
    update();
  }

  function invertMask() {
    if (!state.image || state.busy) return;
    pushUndo();
    for (let i = 0; i < state.mask.length; i++) state.mask[i] ^= 1;
    renderMask();
    update();
  }

  // The mask as drawn, as a PNG file: white (255) = fill, black (0) = keep, opaque.
  function maskPng() {
    const { width: w, height: h } = state.image;
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext("2d");
    const data = ctx.createImageData(w, h);
    for (let i = 0; i < state.mask.length; i++) {
      const v = state.mask[i] ? 255 : 0;
      const o = i * 4;
      data.data[o] = v; data.data[o + 1] = v; data.data[o + 2] = v; data.data[o + 3] = 255;
    }
    ctx.putImageData(data, 0, 0);
    return new Promise((resolve, reject) => canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("cannot encode the mask"))),
      "image/png"));
  }

  // ---- history --------------------------------------------------------------------------

  function snapshot() {
    return { image: state.image, mask: state.mask.slice(), before: state.before,
      result: state.result };
  }

  function restore(snap) {
    setImage(snap.image, snap.mask);
    state.before = snap.before;
    setResult(snap.result);
    update();
  }

  function pushUndo() {
    state.undo.push(snapshot());
    const limit = Math.max(5, Math.min(HISTORY_LIMIT,
      Math.floor(HISTORY_BYTES / state.mask.length)));
    while (state.undo.length > limit) state.undo.shift();
    state.redo = [];
  }

  function undo() {
    if (state.busy || !state.undo.length) return;
    state.redo.push(snapshot());
    restore(state.undo.pop());
  }

  function redo() {
    if (state.busy || !state.redo.length) return;
    state.undo.push(snapshot());
    restore(state.redo.pop());
  }

  // ---- result, compare, download --------------------------------------------------------

  function setResult(result) {
    state.result = result;
    el.download.hidden = !result;
    if (result) {
      el.download.href = result.url;
      const stem = state.image.name.replace(/\.[^.]*$/, "") || "image";
      el.download.download = `${stem}_inpainted.png`;
    } else {
      el.download.removeAttribute("href");
    }
    el.compareBox.hidden = !state.before;
    if (state.before) {
      el.beforeCanvas.getContext("2d").drawImage(state.before.bitmap, 0, 0);
    }
    el.compare.value = 0;
    showCompare();
  }

  function showCompare() {
    const v = Number(el.compare.value);
    el.beforeCanvas.hidden = !state.before || v === 0;
    el.beforeCanvas.style.clipPath = `inset(0 ${100 - v}% 0 0)`;
  }

  // ---- inpaint --------------------------------------------------------------------------

  function toBase64(blob) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
  }

  function setBusy(busy) {
    state.busy = busy;
    el.busy.hidden = !busy;
    document.body.setAttribute("aria-busy", String(busy));
    update();
  }

  async function inpaint() {
    if (state.busy || !state.image) return;
    if (!maskPixels()) {
      showMessage("The mask is empty: brush over the area to fill before pressing Inpaint.");
      return;
    }
    clearMessage();
    const model = el.model.value;
    const strategy = el.strategy.value;
    setBusy(true);
    const t0 = performance.now();
    try {
      const body = JSON.stringify({
        image: await toBase64(state.image.blob),
        mask: await toBase64(await maskPng()),
        model,
        strategy,
      });
      const response = await fetch("/api/v1/inpaint", {
        method: "POST", headers: { "Content-Type": "application/json" }, body,
      });
      if (!response.ok) {
        showMessage(await errorText(response));
        return;
      }
      const blob = await response.blob();
      const image = await makeImage(blob, state.image.name);
      const seconds = (performance.now() - t0) / 1000;
      const run = Number(response.headers.get("X-Inpaint-Seconds"));
      const load = response.headers.get("X-Load-Seconds");
      pushUndo();
      const from = state.image;
      setImage(image, new Uint8Array(image.width * image.height));
      state.before = from;
      setResult({ blob, url: URL.createObjectURL(blob) });
      el.latency.textContent = `${model}: ${seconds.toFixed(2)} s (model ${run.toFixed(2)} s` +
        (Number(load) >= 0.01 ? `, loading ${Number(load).toFixed(2)} s)` : ")");
    } catch (e) {
      showMessage(`Inpainting failed: ${e.message}`);
    } finally {
      setBusy(false);
    }
  }

  // ---- tools and state of the controls --------------------------------------------------

  function setTool(tool) {
    state.tool = tool;
    for (const [name, button] of [["brush", el.brush], ["eraser", el.eraser]]) {
      button.classList.toggle("active", name === tool);
      button.setAttribute("aria-pressed", String(name === tool));
    }
  }

  function setSize(size) {
    state.size = Math.max(1, Math.min(Number(el.size.max), Math.round(size)));
    el.size.value = state.size;
    el.sizeValue.textContent = state.size;
  }

  function update() {
    const has = Boolean(state.image);
    const filled = has ? maskPixels() : 0;
    el.inpaint.disabled = state.busy || !has;
    el.undo.disabled = state.busy || !state.undo.length;
    el.redo.disabled = state.busy || !state.redo.length;
    el.clear.disabled = state.busy || !filled;
    el.invert.disabled = state.busy || !has;
    if (has) {
      const { width, height, name } = state.image;
      const pct = (100 * filled) / (width * height);
      el.info.textContent = `${name}${state.result ? " (result)" : ""}: ${width}x${height}, ` +
        `area to fill ${filled} px (${pct.toFixed(1)} %)`;
    }
  }

  function imagePoint(event) {
    const rect = el.maskCanvas.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) * state.image.width) / rect.width,
      y: ((event.clientY - rect.top) * state.image.height) / rect.height,
    };
  }

  function moveCursor(event) {
    const rect = el.maskCanvas.getBoundingClientRect();
    const d = (state.size * rect.width) / state.image.width;
    el.cursor.style.left = `${event.clientX - rect.left}px`;
    el.cursor.style.top = `${event.clientY - rect.top}px`;
    el.cursor.style.width = `${d}px`;
    el.cursor.style.height = `${d}px`;
    el.cursor.hidden = false;
  }

  // ---- events ---------------------------------------------------------------------------

  el.maskCanvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !state.image || state.busy) return;
    event.preventDefault();
    el.maskCanvas.setPointerCapture(event.pointerId);
    pushUndo();
    const p = imagePoint(event);
    state.drawing = null;
    strokeTo(p.x, p.y);
    update();
  });
  el.maskCanvas.addEventListener("pointermove", (event) => {
    if (!state.image) return;
    moveCursor(event);
    if (state.drawing) {
      const p = imagePoint(event);
      strokeTo(p.x, p.y);
    }
  });
  const endStroke = () => {
    if (state.drawing) {
      state.drawing = null;
      update();
    }
  };
  el.maskCanvas.addEventListener("pointerup", endStroke);
  el.maskCanvas.addEventListener("pointercancel", endStroke);
  el.maskCanvas.addEventListener("pointerleave", () => { el.cursor.hidden = true; });
  el.maskCanvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    setSize(event.deltaY < 0 ? state.size * 1.15 + 1 : state.size / 1.15);
    moveCursor(event);
  }, { passive: false });

  el.file.addEventListener("change", () => {
    openFile(el.file.files[0]);
    el.file.value = "";
  });
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    el.stage.classList.add("drag");
  });
  document.addEventListener("dragleave", () => el.stage.classList.remove("drag"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    el.stage.classList.remove("drag");
    if (event.dataTransfer.files.length) openFile(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])];
    const file = files.find((f) => f.type.startsWith("image/")) || files[0];
    if (file) {
      event.preventDefault();
      openFile(file);
    }
  });

  el.inpaint.addEventListener("click", inpaint);
  el.brush.addEventListener("click", () => setTool("brush"));
  el.eraser.addEventListener("click", () => setTool("eraser"));
  el.size.addEventListener("input", () => setSize(el.size.value));
  el.undo.addEventListener("click", undo);
  el.redo.addEventListener("click", redo);
  el.clear.addEventListener("click", clearMask);
  el.invert.addEventListener("click", invertMask);
  el.compare.addEventListener("input", showCompare);
  el.model.addEventListener("change", showModelNote);
  window.addEventListener("resize", layout);

  document.addEventListener("keydown", (event) => {
    if (event.target.matches("input[type=text], textarea")) return;
    const key = event.key.toLowerCase();
    const mod = event.ctrlKey || event.metaKey;
    if (mod && key === "z") {
      event.preventDefault();
      if (event.shiftKey) redo(); else undo();
    } else if (mod && key === "y") {
      event.preventDefault();
      redo();
    } else if (mod || event.altKey || event.target.tagName === "SELECT") {
      // leave other shortcuts and select keyboard navigation to the browser
    } else if (key === "b") {
      setTool("brush");
    } else if (key === "e") {
      setTool("eraser");
    } else if (key === "[") {
      setSize(state.size - Math.max(1, state.size * 0.1));
    } else if (key === "]") {
      setSize(state.size + Math.max(1, state.size * 0.1));
    } else if (key === "i") {
      invertMask();
    } else if (key === "delete" || key === "backspace") {
      clearMask();
    } else if (key === "enter" && event.target.tagName !== "BUTTON") {
      inpaint();
    }
  });

  setSize(el.size.value);
  loadConfig();
})();
