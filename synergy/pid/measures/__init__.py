"""The built-in PID measures: one module per measure, each registering itself on import.

Importing this package fills the registry of :mod:`synergy.pid.registry`.
"""

from synergy.pid.measures import broja, ccs, dep, gk, imax, imin, mmi, pm, sx

__all__ = ["broja", "ccs", "dep", "gk", "imax", "imin", "mmi", "pm", "sx"]
