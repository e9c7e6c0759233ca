"""``python -m nexusreports``: the same as the ``nexusreports`` command."""

import sys

from .cli import main

sys.exit(main())
