"""``python -m spikevid.cli``: the same as the ``spikevid`` command."""

import sys

from . import main

sys.exit(main())
