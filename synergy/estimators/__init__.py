"""synergy.estimators: from samples to measures, and differentiable Gaussian-latent estimators.

The sample-based estimators need only numpy; the Gaussian ones need torch, which is imported
on first use of one of their names (``pip install "synergy[torch]"``).
"""

from __future__ import annotations

import importlib
from typing import Any

from synergy.estimators.discrete import (
    MEASURE_NAMES,
    DecompositionEstimate,
    Estimate,
    bootstrap,
    estimate,
    estimate_decomposition,
    miller_madow_entropy,
    miller_madow_mutual_information,
    permutation_test,
)

_TORCH_NAMES = {
    "gaussian": [
        "GaussianPID",
        "NonSynergyPenalty",
        "NonSynergyPenaltyInfo",
        "gaussian_entropy",
        "gaussian_mmi_pid",
        "gaussian_mutual_information",
        "gaussian_wms",
        "greedy_best_subset",
        "kl_per_dim",
        "latent_i_max",
        "latent_s_max",
        "non_synergy_penalty",
    ],
    "minibatch": ["TCDecomposition", "log_prod_qzj", "log_qz", "tc_decomposition"],
}
_LAZY = {name: module for module, names in _TORCH_NAMES.items() for name in names}

__all__ = [
    "MEASURE_NAMES",
    "DecompositionEstimate",
    "Estimate",
    "bootstrap",
    "estimate",
    "estimate_decomposition",
    "miller_madow_entropy",
    "miller_madow_mutual_information",
    "permutation_test",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    # torch is an optional extra: import the torch modules only when one of their names is used.
    if name in _LAZY:
        module = importlib.import_module(f"synergy.estimators.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'synergy.estimators' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
