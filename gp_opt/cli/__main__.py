"""``python -m gp_opt.cli``: the same as the ``gp-opt`` command."""
import sys

from gp_opt.cli import main

sys.exit(main())
