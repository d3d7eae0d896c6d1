"""``python -m inbox.cli``."""

from inbox.cli.main import main

raise SystemExit(main())
