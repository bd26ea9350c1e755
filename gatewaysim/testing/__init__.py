"""Testing packs and the systems they model: the conformance kit and regression replays.

* :func:`check_pack` holds any pack (built-in, installed or your own) to the contract every
  tool relies on; :func:`pack_conformance_tests` gives the same checks as test functions.
* :func:`replay_failure` reruns a failure file and shows the timeline around its
  violation; the pytest plugin (``gatewaysim.pytest_plugin``) uses it to collect the
  failure files in ``findings/`` as regression tests.
* :mod:`gatewaysim.testing.tables` states what a complete transition table is.
"""

from __future__ import annotations

from .conformance import (
    CHECKS,
    ConformanceReport,
    Outcome,
    check_pack,
    pack_conformance_tests,
)
from .draw import draw_args, one_of_each
from .regression import Regression, is_failure_file, replay_failure
from .tables import StateTable, check_table, state_tables

__all__ = ["CHECKS", "ConformanceReport", "Outcome", "Regression", "StateTable",
           "check_pack", "check_table", "draw_args", "is_failure_file", "one_of_each",
           "pack_conformance_tests", "replay_failure", "state_tables"]
