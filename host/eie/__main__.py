"""``python -m eie``: the same as the ``eie`` console script."""

import sys

from eie.cli import main

sys.exit(main())
