import sys

from costwarden.cli import main

sys.exit(main())
