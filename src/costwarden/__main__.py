import sys

from costwarden.cli import entry

sys.exit(entry())
