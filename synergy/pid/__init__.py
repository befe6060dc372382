"""synergy.pid: synergy measures and partial information decompositions of discrete tables.

Closed forms (WMS, I_max/S_max, I_min) take batches; decompose() returns a PIDResult.
"""

from synergy.pid.decompose import MEASURES, decompose
from synergy.pid.imax import i_max, s_max
from synergy.pid.imin import i_min
from synergy.pid.lattice import RedundancyLattice, redundancy_lattice
from synergy.pid.result import PIDResult
from synergy.pid.vk import UnionInformation, s_vk, union_information
from synergy.pid.wms import wms

__all__ = [
    "MEASURES",
    "PIDResult",
    "RedundancyLattice",
    "UnionInformation",
    "decompose",
    "i_max",
    "i_min",
    "redundancy_lattice",
    "s_max",
    "s_vk",
    "union_information",
    "wms",
]
