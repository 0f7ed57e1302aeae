"""`python -m facefind`: see facefind.cli."""

import sys

from facefind.ui.cli import main

if __name__ == "__main__":  # not when a helper process (spawn) imports it
    sys.exit(main())
