"""`python -m facefind`: see facefind.cli."""

import sys

from .cli import main

sys.exit(main())
