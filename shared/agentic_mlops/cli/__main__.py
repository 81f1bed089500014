"""``python -m agentic_mlops.cli``."""

import sys

from agentic_mlops.cli import main

sys.exit(main())
