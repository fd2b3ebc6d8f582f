"""``python -m meshlink`` is the ``meshlink`` command."""

import sys

from meshlink.cli import main

sys.exit(main())
