"""Ctrl-C during a campaign is an interrupt wherever it lands (the command-line tests press
it for real; these pin the two cases that once ended in a traceback or a SIGINT exit)."""

from __future__ import annotations

import sys

from gatewaysim.properties.explorer import _in_exec_of_source, _interrupt_behind


def test_an_internal_error_raised_while_handling_ctrl_c_is_the_interrupt() -> None:
    # Hypothesis's run_engine, interrupted while hashing the test's source, fails its own
    # assertion in the handler: the campaign must see the KeyboardInterrupt behind it.
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise AssertionError  # noqa: B904 - what the library does
    except AssertionError as exc:
        behind = _interrupt_behind(exc)
    assert isinstance(behind, KeyboardInterrupt)
    assert _interrupt_behind(ValueError("nothing behind it")) is None


def test_ctrl_c_is_deferred_only_inside_source_text_given_to_exec() -> None:
    seen: dict[str, bool] = {}
    exec("seen['exec'] = inside(frame(), caller)",
         {"seen": seen, "inside": _in_exec_of_source, "frame": sys._getframe,
          "caller": __file__})
    assert seen == {"exec": True}
    # here, the search stops at this module's own frame: whatever ran this test (an xdist
    # worker is source text given to exec) does not count
    assert not _in_exec_of_source(sys._getframe(), __file__)
