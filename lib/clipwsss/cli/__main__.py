"""``python -m clipwsss.cli``."""

import sys

from clipwsss.cli.main import main

sys.exit(main())
