"""Per-op profile of a TFLite model: which ops run, which XNNPACK takes, and what each costs.

The pip runtime (``ai-edge-litert``) exposes no op profiler to Python, so the profile is taken
the way TFLite's ``benchmark_model --enable_op_profiling`` attributes time, one node at a time:
every operator of the main subgraph is cut out into a **one-op model** (its own tensors and
constant buffers, its non-constant inputs as model inputs) and

- *delegated*: the one-op model is loaded with the default XNNPACK delegate; when XNNPACK takes
  the node the interpreter appends a delegate node (``NumNodes() == 2``), otherwise the op runs
  on a builtin (often reference) kernel;
- *time*: median wall time of ``invoke()`` over ``reps`` calls (inputs filled with mid-range
  values: costs of these kernels do not depend on values), with ``num_threads`` threads.

The sum of the per-op times over-counts the whole model slightly (each one-op model pays its
own delegate entry and exit) and ignores XNNPACK's cross-op fusion; it names where time goes,
and :func:`whole_model_ms` is the number to compare with a SavedModel.

Example:
```python
from tfinpaint.export import tflite_profile
rows = tflite_profile.profile(open("pconv.tflite", "rb").read(), num_threads=2)
print(tflite_profile.format_profile(rows))
```
"""

from __future__ import annotations

import copy
import statistics
import time

import numpy as np

__all__ = ["by_op_type", "format_profile", "profile", "whole_model_ms"]


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    return schema, flatbuffer_utils


def _op_name(model, op) -> str:
    _, fbu = _schema()
    return fbu.opcode_to_name(model, op.opcodeIndex) or "?"


def _one_op_model(model, index: int):
    """The one-op model of operator ``index`` (bytes) and its input tensor indices."""
    schema, fbu = _schema()
    graph = model.subgraphs[0]
    op = graph.operators[index]
    used = [t for t in list(op.inputs) + list(op.outputs) if t >= 0]
    order = list(dict.fromkeys(used))
    remap = {old: new for new, old in enumerate(order)}
    buffers = [schema.BufferT()]
    tensors = []
    inputs = []
    for old in order:
        tensor = copy.copy(graph.tensors[old])
        buf = model.buffers[tensor.buffer]
        has_data = buf.data is not None and len(buf.data) > 0
        if has_data:
            tensor.buffer = len(buffers)
            buffers.append(buf)
        else:
            tensor.buffer = 0
            if old in op.inputs:
                inputs.append(remap[old])
        tensors.append(tensor)
    new_op = copy.copy(op)
    new_op.inputs = [remap[t] if t >= 0 else -1 for t in op.inputs]
    new_op.outputs = [remap[t] for t in op.outputs]
    new_op.intermediates = []
    sub = schema.SubGraphT()
    sub.tensors = tensors
    sub.operators = [new_op]
    sub.inputs = inputs
    sub.outputs = [remap[t] for t in op.outputs]
    sub.name = "op"
    one = schema.ModelT()
    one.version = model.version
    one.operatorCodes = model.operatorCodes
    one.subgraphs = [sub]
    one.buffers = buffers
    one.description = "one-op"
    return bytes(fbu.convert_object_to_bytearray(one))


def _fill(interpreter):
    for detail in interpreter.get_input_details():
        dtype, shape = detail["dtype"], detail["shape"]
        if np.issubdtype(dtype, np.floating):
            value = np.full(shape, 0.5, dtype)
        elif dtype == np.bool_:
            value = np.ones(shape, dtype)
        else:
            value = np.full(shape, 1, dtype)
        interpreter.set_tensor(detail["index"], value)


def _time_invoke(interpreter, reps: int) -> float:
    interpreter.invoke()  # warm-up (XNNPACK packs weights on the first call)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def profile(model_bytes: bytes, num_threads: int = 2, reps: int = 5) -> list[dict]:
    """One row per operator: ``{"index", "op", "shape", "delegated", "ms"}`` (run order).

    Args:
        model_bytes: a ``.tflite`` flatbuffer.
        num_threads: interpreter threads. Defaults to `2`.
        reps: timed ``invoke()`` calls per op (median). Defaults to `5`.
    """
    from ai_edge_litert.interpreter import Interpreter

    _, fbu = _schema()
    model = fbu.read_model_from_bytearray(bytearray(model_bytes))
    graph = model.subgraphs[0]
    rows = []
    for index, op in enumerate(graph.operators):
        name = _op_name(model, op)
        out = graph.tensors[op.outputs[0]]
        row = {"index": index, "op": name, "shape": [int(s) for s in out.shape],
               "delegated": None, "ms": None}
        try:
            interpreter = Interpreter(model_content=_one_op_model(model, index),
                                      num_threads=num_threads)
            interpreter.allocate_tensors()
            row["delegated"] = interpreter._interpreter.NumNodes() > 1
            _fill(interpreter)
            row["ms"] = _time_invoke(interpreter, reps)
        except (RuntimeError, ValueError) as e:  # e.g. a kernel refusing the filler values
            row["error"] = str(e)[:200]
        rows.append(row)
    return rows


def whole_model_ms(model_bytes: bytes, num_threads: int = 2, reps: int = 5) -> float:
    """Median ``invoke()`` time of the whole model (XNNPACK), inputs as in :func:`profile`."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=bytes(model_bytes), num_threads=num_threads)
    interpreter.allocate_tensors()
    _fill(interpreter)
    return _time_invoke(interpreter, reps)


def by_op_type(rows: list[dict]) -> list[dict]:
    """Rows summed per ``(op, delegated)``, slowest first (``op, delegated, count, ms``)."""
    totals: dict = {}
    for row in rows:
        key = (row["op"], row["delegated"])
        entry = totals.setdefault(key, {"op": row["op"], "delegated": row["delegated"],
                                        "count": 0, "ms": 0.0})
        entry["count"] += 1
        entry["ms"] += row["ms"] or 0.0
    return sorted(totals.values(), key=lambda r: -r["ms"])


def format_profile(rows: list[dict], top: int = 15) -> str:
    """A text table: per op type (count, XNNPACK or not, total ms), then the slowest ops."""
    total = sum(r["ms"] or 0.0 for r in rows)
    lines = [f"{'op':<26}{'count':>6}{'XNNPACK':>9}{'ms':>10}{'share':>8}"]
    for r in by_op_type(rows):
        share = r["ms"] / total if total else 0.0
        lines.append(f"{r['op']:<26}{r['count']:>6}{'yes' if r['delegated'] else 'NO':>9}"
                     f"{r['ms']:>10.2f}{share:>8.1%}")
    lines.append(f"{'sum of ops':<41}{total:>10.2f}")
    lines.append("")
    lines.append(f"slowest {top} ops:")
    for r in sorted(rows, key=lambda r: -(r["ms"] or 0.0))[:top]:
        lines.append(f"  #{r['index']:<5}{r['op']:<26}{'yes' if r['delegated'] else 'NO':>5}"
                     f"{r['ms'] or 0.0:>10.2f} ms  out {r['shape']}")
    return "\n".join(lines)
