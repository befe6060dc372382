"""synergy: synergy, shared information and partial information decomposition.

Discrete tables put the sources first and the target last (``p[x1, x2, ..., y]``); every
information function answers in bits unless ``base=`` says otherwise.
"""

import logging

from synergy import pid, tables, testing
from synergy._scan import scan
from synergy._validate import (
    InvalidDistributionError,
    InvalidParameterError,
    InvalidTypeError,
    SynergyConvergenceWarning,
)
from synergy._version import __version__
from synergy.information import (
    conditional_entropy,
    conditional_mutual_information,
    entropy,
    kl_divergence,
    mutual_information,
    specific_information,
)
from synergy.pid import (
    PIDResult,
    UnionInformation,
    decompose,
    i_max,
    i_min,
    s_max,
    s_vk,
    union_information,
    wms,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "InvalidDistributionError",
    "InvalidParameterError",
    "InvalidTypeError",
    "PIDResult",
    "SynergyConvergenceWarning",
    "UnionInformation",
    "__version__",
    "conditional_entropy",
    "conditional_mutual_information",
    "decompose",
    "entropy",
    "i_max",
    "i_min",
    "kl_divergence",
    "mutual_information",
    "pid",
    "s_max",
    "s_vk",
    "scan",
    "specific_information",
    "tables",
    "testing",
    "union_information",
    "wms",
]
