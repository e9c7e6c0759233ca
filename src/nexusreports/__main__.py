"""``python -m nexusreports``: the same as the ``nexusreports`` command."""

import sys

from ._entry import main

sys.exit(main())
