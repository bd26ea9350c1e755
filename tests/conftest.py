"""Test-wide setup: the Hypothesis profiles, chosen with ``HYPOTHESIS_PROFILE``.

``dev`` by default; CI sets ``HYPOTHESIS_PROFILE=ci`` (derandomized, bounded, no database)
so a red build reproduces anywhere. See :mod:`properties.profiles`.
"""

from __future__ import annotations

import os

from properties.profiles import load_profile

load_profile(os.environ.get("HYPOTHESIS_PROFILE") or None)
