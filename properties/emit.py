"""Emit a standalone pytest regression test for a failure.

The test embeds the pack name, config, world seed and steps, so it needs neither the
failure file nor Hypothesis: it runs the minimal failing run and asserts that the
invariant holds. It fails while the bug is present and passes once it is fixed, and it
reads as the bug report it is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from gatewaysim.simulator.files import write_atomic

from .failure import Failure
from .replay import under_variant

TEMPLATE = '''\
"""Regression test for a finding of gatewaysim explore.

The run is embedded below, so this test needs neither the failure file nor Hypothesis.
It fails while the bug is present and passes once it is fixed. STORY says what was found.
"""

import json

from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step

STATEMENT = {statement}
STORY = {story}
PACK = {pack_ref}
VARIANT = {variant}
INVARIANT = {invariant_id}
SEED = {seed}
CONFIG = json.loads({config})
STEPS = [Step(name, args) for name, args in json.loads({steps})]


def test_{func}() -> None:
    run = RunSpec.of(PACK, STEPS, variant=VARIANT, seed=SEED, judge=INVARIANT, config=CONFIG)
    violation = run.execute().violation
    assert violation is None, violation.describe()
'''


def _literal(value: object) -> str:
    """A Python string literal holding ``value`` as JSON: data, never source."""
    return repr(json.dumps(value, sort_keys=False, allow_nan=False))


def regression_test_source(failure: Failure, variant: str | None = None) -> str:
    """The text of a pytest module asserting ``failure``'s invariant holds after its steps.

    With ``variant``, the test embeds that variant's config (e.g. the fixed model's)
    instead of the one the failure was found with.
    """
    story = (f"Invariant {failure.invariant_id!r} was violated by this run of the "
             f"{failure.pack!r} pack, variant {failure.variant!r} (found by gatewaysim "
             f"explore): {failure.violation.message}.")
    if variant is not None and variant != failure.variant:
        failure = under_variant(failure, variant)
        story += f" This test runs it under the config of variant {variant!r}."
    func = re.sub(r"[^0-9a-zA-Z]+", "_", f"{failure.invariant_id}_holds_after_minimal_run")
    func = func.strip("_").lower()[:80] or "invariant_holds"
    steps = [[s.name, s.args] for s in failure.steps]
    # Every value from the failure file goes in through repr() of a str or an int: data.
    return TEMPLATE.format(
        statement=repr(failure.statement), story=repr(story),
        invariant_id=repr(failure.invariant_id), seed=repr(int(failure.seed)),
        variant=repr(failure.variant), pack_ref=repr(failure.source or failure.pack),
        config=_literal(failure.config), steps=_literal(steps), func=func,
    )


def emit_test(failure: Failure, path: str | Path, variant: str | None = None) -> Path:
    """Write the regression test for ``failure`` to ``path`` (atomically)."""
    return write_atomic(path, regression_test_source(failure, variant))
