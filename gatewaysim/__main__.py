"""``python -m gatewaysim``: the same as the ``gatewaysim`` console script."""

import sys

from .cli import main

sys.exit(main())
