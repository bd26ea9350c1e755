"""Ordering actor names the way people read them."""

from __future__ import annotations

import re
from typing import Any

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that puts ``client/2`` before ``client/10``, so lanes and tables read in order."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _DIGITS.split(name))
