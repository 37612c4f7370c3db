"""`python -m podeip` runs the CLI."""

from podeip.cli import main

raise SystemExit(main())
