"""``python -m spikevid.cli``: the same as the ``spikevid`` command."""

from . import exit_process, main

exit_process(main())
