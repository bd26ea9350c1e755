"""Every registered pack that loads passes the conformance kit: registering is enough.

A registered pack that does not load is reported as skipped with its one-line problem
(``gatewaysim packs`` lists it too); its own tests are where it fails.
"""

from __future__ import annotations

import pytest

from gatewaysim.properties.pack import loadable_packs
from gatewaysim.testing import check_pack

PACKS, BROKEN = loadable_packs()


@pytest.mark.parametrize("pack", PACKS, ids=[p.name for p in PACKS])
def test_pack_conforms(pack) -> None:
    check_pack(pack)


@pytest.mark.parametrize("problem", BROKEN, ids=[p.split("'")[1] for p in BROKEN])
def test_registered_pack_loads(problem: str) -> None:
    pytest.skip(problem)
