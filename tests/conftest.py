"""Test-wide setup: the Hypothesis profiles, chosen with ``HYPOTHESIS_PROFILE``.

``dev`` by default; CI sets ``HYPOTHESIS_PROFILE=ci`` (derandomized, bounded, no database)
so a red build reproduces anywhere. See :mod:`gatewaysim.properties.profiles`.
"""

from __future__ import annotations

import os

from gatewaysim.properties.profiles import load_profile

load_profile(os.environ.get("HYPOTHESIS_PROFILE") or None)
