"""``python -m spikevid``: the same as the ``spikevid`` command."""

import sys

from .cli import main

sys.exit(main())
