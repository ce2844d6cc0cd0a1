"""``python -m spikevid``: the same as the ``spikevid`` command."""

from .cli import exit_process, main

exit_process(main())
