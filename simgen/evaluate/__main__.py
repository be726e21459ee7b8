"""``python -m simgen.evaluate --help``."""

from simgen.evaluate.cli import main

raise SystemExit(main())
