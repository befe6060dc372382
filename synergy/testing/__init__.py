"""Named distributions and hypothesis strategies, public so that users test their code like ours.

The canonical gates, as read-only tables with the target last (X1, X2 independent uniform bits
unless stated; sources in each gate's ``GATES[name].source``):

- ``XOR``: Y = X1 xor X2 (Williams & Beer 2010).
- ``AND``, ``OR``: Y = X1 and / or X2 (Williams & Beer 2010; Griffith & Koch 2014).
- ``RDN``: X1 = X2 = Y (Griffith & Koch 2014).
- ``UNQ``: Y = X1 (Bertschinger et al. 2014).
- ``COPY``: Y = (X1, X2) (Harder et al. 2013; dit's ``Unq``).
- ``SUM``: Y = X1 + X2.
- ``RdnXor``: one redundant and one synergistic bit (Griffith & Koch 2014).
- ``XorAnd``: Y = (X1 xor X2, X1 and X2) (Griffith & Koch 2014).
- ``ImperfectRdn``: RDN with a 0.001 off-term (Griffith & Koch 2014).
- ``XOR3``: three-input parity (Williams & Beer 2010).

``tables`` and ``shapes`` are hypothesis strategies (hypothesis is imported on first use).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synergy.testing._gates import GATES, Gate, gate

XOR: np.ndarray = GATES["XOR"].table
AND: np.ndarray = GATES["AND"].table
OR: np.ndarray = GATES["OR"].table
RDN: np.ndarray = GATES["RDN"].table
UNQ: np.ndarray = GATES["UNQ"].table
COPY: np.ndarray = GATES["COPY"].table
SUM: np.ndarray = GATES["SUM"].table
RdnXor: np.ndarray = GATES["RdnXor"].table
XorAnd: np.ndarray = GATES["XorAnd"].table
ImperfectRdn: np.ndarray = GATES["ImperfectRdn"].table
XOR3: np.ndarray = GATES["XOR3"].table

__all__ = [
    "AND",
    "COPY",
    "GATES",
    "OR",
    "RDN",
    "SUM",
    "UNQ",
    "XOR",
    "XOR3",
    "Gate",
    "ImperfectRdn",
    "RdnXor",
    "XorAnd",
    "gate",
    "shapes",
    "tables",
]


def __getattr__(name: str) -> Any:
    # hypothesis is a test dependency: import it only when a strategy is asked for.
    if name in ("tables", "shapes"):
        from synergy.testing import _strategies

        return getattr(_strategies, name)
    raise AttributeError(f"module 'synergy.testing' has no attribute {name!r}")
