"""Constructor-argument checks shared by the layers: a bad argument fails when the layer is
made, with a message naming it, not later inside a graph."""

from __future__ import annotations


def positive_int(value, name: str) -> int:
    """``value`` as an ``int`` when it is a whole number >= 1 (bools refused); ``ValueError``
    naming ``name`` otherwise."""
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive int. Received: {name}={value!r}")
    return int(value)
