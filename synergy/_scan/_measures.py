"""The one place where a measure name becomes result columns for a batch of tables.

Closed forms run batched; S_VK goes through one seam that batches the moment the solver
accepts ``batch_ndim``; every measure of the PID registry gives its synergy atom.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import synergy.information as information
import synergy.pid as pid

__all__ = ["columns_of", "evaluate", "known_measures", "synergy_ranking"]

# Public functions with ``batch_ndim``: the column is the function's value, in bits.
_BATCHED: dict[str, Callable[..., float | np.ndarray]] = {
    "mutual_information": information.mutual_information,
    "wms": pid.wms,
    "i_max": pid.i_max,
    "s_max": pid.s_max,
    "i_min": pid.i_min,
}
_EXTRA_COLUMNS = {"s_vk": ("s_vk", "s_vk_gap")}
# The built-in columns that are a synergy, the most trusted first (certified S_VK, then the
# upper bound S_max, then WMS, which can be negative); i_min, i_max and mutual_information are
# not. Every decompose() measure's column is its synergy atom.
_SYNERGY_FIRST = ("s_vk", "s_max", "wms")


def known_measures() -> tuple[str, ...]:
    """Every accepted name, read when asked so that measures registered later show up."""
    extra = tuple(m for m in pid.MEASURES if m not in _BATCHED and m != "s_vk")
    return (*_BATCHED, "s_vk", *extra)


def synergy_ranking(computed: Iterable[str]) -> tuple[str, ...]:
    """The computed measures whose column is a synergy, in the order to rank rows by.

    The built-in synergies first, then the decompose() measures in the registry's order,
    read when asked, so that a measure registered later ranks with no new code.
    """
    present = set(computed)
    registered = (m for m in known_measures() if m not in _BATCHED and m != "s_vk")
    return tuple(m for m in (*_SYNERGY_FIRST, *registered) if m in present)


def columns_of(measure: str) -> tuple[str, ...]:
    """The result columns one measure fills (its value first)."""
    return _EXTRA_COLUMNS.get(measure, (measure,))


def _accepts_batch(func: Callable[..., object]) -> bool:
    return "batch_ndim" in inspect.signature(func).parameters


def _s_vk(tables: np.ndarray) -> dict[str, np.ndarray]:
    """S_VK and its certified gap (bits) of each table: batched when the solver is."""
    solve: Callable[..., Any] = pid.union_information
    if _accepts_batch(solve):
        batch = solve(tables, batch_ndim=1, validate=False)
        return {
            "s_vk": np.asarray(batch.synergy, dtype=np.float64).reshape(len(tables)),
            "s_vk_gap": np.asarray(batch.gap, dtype=np.float64).reshape(len(tables)),
        }
    synergy = np.empty(len(tables))
    gap = np.empty(len(tables))
    for i, table in enumerate(tables):
        result = solve(table, validate=False)
        synergy[i] = result.synergy
        gap[i] = result.gap
    return {"s_vk": synergy, "s_vk_gap": gap}


def evaluate(measure: str, tables: np.ndarray) -> dict[str, np.ndarray]:
    """Columns of ``measure`` for ``tables`` of shape (n, n_1, ..., n_k, n_y), in bits."""
    if measure in _BATCHED:
        values = _BATCHED[measure](tables, batch_ndim=1, validate=False)
        return {measure: np.asarray(values, dtype=np.float64).reshape(len(tables))}
    if measure == "s_vk":
        return _s_vk(tables)
    # A registered decompose() measure: the whole chunk in one batched call (the registry
    # hands the stack to the measure); the column is the synergy atom.
    result = pid.decompose(tables, measure, batch_ndim=1)
    return {measure: np.asarray(result.synergy, dtype=np.float64).reshape(len(tables))}
