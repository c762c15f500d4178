"""``python -m vai_train`` = ``vai-train``."""

import sys

from vai_train.cli import main

sys.exit(main())
