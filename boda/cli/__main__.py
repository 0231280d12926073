"""`python -m boda.cli`: the `boda` command."""
import sys

from . import main

sys.exit(main())
