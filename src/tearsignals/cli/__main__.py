import sys

from tearsignals.cli.main import main

sys.exit(main())
