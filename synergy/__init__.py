"""synergy: synergy, shared information and partial information decomposition.

Discrete tables put the sources first and the target last (``p[x1, x2, ..., y]``); every
information function answers in bits unless ``base=`` says otherwise.
"""

import logging

from synergy import pid, tables, testing
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
from synergy.pid import decompose, i_max, i_min, s_max, wms
from synergy.pid.vk import s_vk, union_information

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "InvalidDistributionError",
    "InvalidParameterError",
    "InvalidTypeError",
    "SynergyConvergenceWarning",
    "__version__",
    "conditional_entropy",
    "decompose",
    "conditional_mutual_information",
    "entropy",
    "i_max",
    "i_min",
    "kl_divergence",
    "mutual_information",
    "pid",
    "s_max",
    "s_vk",
    "specific_information",
    "tables",
    "testing",
    "union_information",
    "wms",
]
