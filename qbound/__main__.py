"""``python -m qbound`` runs the command line."""
import sys

from qbound.app.cli import main

sys.exit(main())
