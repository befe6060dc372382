"""synergy.pid: synergy measures and partial information decompositions of discrete tables.

Closed forms (WMS, I_max/S_max, I_min) take batches; decompose() returns a PIDResult for
any measure of the registry (register_measure adds one).
"""

from synergy.pid.decompose import MEASURES, decompose
from synergy.pid.imax import i_max, s_max
from synergy.pid.imin import i_min
from synergy.pid.lattice import RedundancyLattice, redundancy_lattice
from synergy.pid.registry import (
    DecompositionAtoms,
    LatticeDecomposition,
    Measure,
    get_measure,
    lattice_decomposition,
    measure_names,
    merge_sources,
    register_alias,
    register_decomposition,
    register_measure,
    unregister_measure,
)
from synergy.pid.result import PIDResult
from synergy.pid.vk import UnionInformation, UnionInformationBatch, s_vk, union_information
from synergy.pid.wms import wms

__all__ = [
    "MEASURES",
    "DecompositionAtoms",
    "LatticeDecomposition",
    "Measure",
    "PIDResult",
    "RedundancyLattice",
    "UnionInformation",
    "UnionInformationBatch",
    "decompose",
    "get_measure",
    "i_max",
    "i_min",
    "lattice_decomposition",
    "measure_names",
    "merge_sources",
    "redundancy_lattice",
    "register_alias",
    "register_decomposition",
    "register_measure",
    "s_max",
    "s_vk",
    "union_information",
    "unregister_measure",
    "wms",
]
