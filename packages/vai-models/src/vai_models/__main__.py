"""``python -m vai_models`` runs the ``vai-models`` CLI."""

import sys

from .cli import main

sys.exit(main())
