"""Hypothesis settings profiles: ``dev`` (default), ``ci`` and ``fuzz``.

* ``dev``: a quick look while editing a model; Hypothesis's usual example database, so a
  failure found once is tried first next time.
* ``ci``: derandomized and bounded, no database: the same examples on every machine and
  every run, so a red CI build is reproducible and a green one means the same thing.
* ``fuzz``: long campaigns; a directory database under ``.hypothesis/fuzz`` keeps every
  failure found so later campaigns (and ``dev``) start from them.

Deadlines are off everywhere: a simulated hour legitimately takes longer than a
simulated second, and the clock that matters is the virtual one.

Any profile a user registers with ``hypothesis.settings.register_profile`` (in a pack module
loaded with ``--pack``, say) can be named too, and ``HYPOTHESIS_PROFILE`` chooses the
default, as it does for pytest.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import InvalidArgument

from gatewaysim.simulator.errors import ConfigError

PROFILES = ("dev", "ci", "fuzz")
DEFAULT_PROFILE = "dev"

FUZZ_DATABASE = ".hypothesis/fuzz"

_registered = False


def register_profiles() -> None:
    """Register the three profiles with Hypothesis (idempotent)."""
    global _registered
    if _registered:
        return
    # Each profile says everything it means and starts from Hypothesis's own defaults, not
    # from whatever profile is loaded when this runs (Hypothesis loads $HYPOTHESIS_PROFILE
    # itself, and a profile registered afterwards would otherwise inherit from it).
    base = settings.get_profile("default")
    settings.register_profile(
        "dev", parent=base, derandomize=False, max_examples=100, stateful_step_count=30,
        deadline=None,
    )
    settings.register_profile(
        "ci", parent=base, derandomize=True, max_examples=60, stateful_step_count=15,
        database=None, deadline=None, print_blob=False,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "fuzz", parent=base, derandomize=False, max_examples=100_000, stateful_step_count=60,
        deadline=None, database=DirectoryBasedExampleDatabase(FUZZ_DATABASE),
        suppress_health_check=[HealthCheck.too_slow],
    )
    _registered = True


def default_profile() -> str:
    """``$HYPOTHESIS_PROFILE`` when set, else ``dev``."""
    return os.environ.get("HYPOTHESIS_PROFILE") or DEFAULT_PROFILE


def profile_settings(name: str) -> settings:
    """The settings of profile ``name`` (ours or one the user registered); an unknown name
    is a :class:`ConfigError`."""
    register_profiles()
    try:
        return settings.get_profile(name)
    except InvalidArgument:
        raise ConfigError(f"unknown profile {name!r} (known: {', '.join(PROFILES)}, or one "
                          "registered with hypothesis.settings.register_profile)") from None


def load_profile(name: str | None) -> str:
    """Make ``name`` (default ``dev``) the active Hypothesis profile; returns the name."""
    chosen = name or default_profile()
    profile_settings(chosen)
    settings.load_profile(chosen)
    return chosen
