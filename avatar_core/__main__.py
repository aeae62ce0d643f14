"""`python -m avatar_core ...`: the command line."""

import sys

from avatar_core.cli.main import main

sys.exit(main())
