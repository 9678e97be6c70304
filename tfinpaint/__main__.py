import sys

from tfinpaint.cli import main

sys.exit(main())
