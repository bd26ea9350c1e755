"""Emit a standalone pytest regression test for a failure.

The test embeds the pack name, config, world seed and steps, so it needs neither the
failure file nor Hypothesis: it runs the minimal failing run and asserts that the
invariant holds. It fails while the bug is present and passes once it is fixed, and it
reads as the bug report it is.
"""

from __future__ import annotations

import json
import pprint
import re
import textwrap
from pathlib import Path

from .failure import Failure, write_atomic
from .replay import under_variant
from .steps import format_steps

TEMPLATE = '''\
"""Regression: {statement}.

{story}

The run is embedded below, so this test needs neither the failure file nor Hypothesis.
It fails while the bug is present and passes once it is fixed.
"""

from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step

PACK = {pack_ref!r}
VARIANT = {variant!r}
INVARIANT = {invariant_id!r}
SEED = {seed!r}
CONFIG = {config}
STEPS = [
{steps}
]


def test_{func}() -> None:
    run = RunSpec.of(PACK, STEPS, variant=VARIANT, seed=SEED, judge=INVARIANT, config=CONFIG)
    violation = run.execute().violation
    assert violation is None, violation.describe()
'''


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
    config = pprint.pformat(json.loads(json.dumps(failure.config)), width=88, sort_dicts=False)
    return TEMPLATE.format(
        statement=failure.statement, story=textwrap.fill(story, 88),
        invariant_id=failure.invariant_id, seed=failure.seed, variant=failure.variant,
        pack_ref=failure.source or failure.pack,
        config=config, steps=format_steps(list(failure.steps)), func=func.strip("_").lower(),
    )


def emit_test(failure: Failure, path: str | Path, variant: str | None = None) -> Path:
    """Write the regression test for ``failure`` to ``path`` (atomically)."""
    return write_atomic(path, regression_test_source(failure, variant))
