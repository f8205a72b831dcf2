"""``python -m pydisco`` runs ``discotool``."""

import sys

from pydisco.cli.main import main

sys.exit(main())
