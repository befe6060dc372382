"""``python -m synergy.vae``: the same command line as ``synergy-vae``."""

from synergy.vae.cli import main

raise SystemExit(main())
