"""Packs these tests make known by name (a broken pack, on purpose) stay in these tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gatewaysim.properties import pack as pack_module


@pytest.fixture(autouse=True)
def _forget_packs_registered_here() -> Iterator[None]:
    before = dict(pack_module._LOADED)
    yield
    pack_module._LOADED.clear()
    pack_module._LOADED.update(before)
