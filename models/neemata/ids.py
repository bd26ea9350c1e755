"""Id allocation with the real wrap rule, and the in-use guard the real code lacks.

``packages/client/src/core.ts`` and the gateway's ``ConnectionManager`` allocate with
``if (c >= MAX_UINT32) c = 0; return c++``: ids 0..2^32-2, then 0 again, with no check
that an id is still live (the ``@todo`` in core.ts). With fix ``id_in_use_guard`` the
allocator skips ids for which ``in_use`` says yes.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import define

from .protocol import MAX_UINT32


@define
class IdCounter:
    """One counter (``c``); ``next`` applies the wrap and, if ``guard``, skips live ids."""

    value: int = 0
    wraps: int = 0

    def next(self, in_use: Callable[[int], bool] | None = None) -> int:
        for _ in range(MAX_UINT32 + 1):
            if self.value >= MAX_UINT32:
                self.value = 0
                self.wraps += 1
            candidate = self.value
            self.value += 1
            if in_use is None or not in_use(candidate):
                return candidate
        raise RuntimeError("every id is in use")  # pragma: no cover - 2^32 live entries

    def __repr__(self) -> str:
        return f"IdCounter({self.value})"


__all__ = ["IdCounter"]
