"""`python -m sim_desk` runs the same entry point as the `sim-desk` command."""

import sys

from sim_desk.cli import main

sys.exit(main())
