"""Entry point: ``python main.py -h``."""

import sys

from eval.cli import main

if __name__ == "__main__":
    sys.exit(main())
