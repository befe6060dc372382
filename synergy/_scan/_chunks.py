"""One chunk of a scan: its source sets, its joint tables, its measures and permutation counts.

A chunk is a pure function of the coded data, the plan and its index, so a local loop, a Dask
worker and a resumed run all compute the same rows, permutations included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synergy._scan._kernels import Counter
from synergy._scan._measures import evaluate

__all__ = ["TIE_BITS", "Plan", "run_chunk", "source_sets"]

#: A shuffled value counts as "at least the observed one" within this many bits, so that
#: rounding does not split ties (a constant target gives 0 both ways).
TIE_BITS = 1e-9


@dataclass(frozen=True)
class Plan:
    """Everything that fixes a scan's rows, values and p-values (written to the manifest)."""

    n_variables: int
    n_samples: int
    sources: int
    targets: tuple[int, ...]
    measures: tuple[str, ...]
    radix: int
    n_permutations: int
    seed_entropy: int
    sets_per_chunk: int

    @property
    def n_sets(self) -> int:
        return math.comb(self.n_variables, self.sources)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_sets // self.sets_per_chunk)

    @property
    def n_rows(self) -> int:
        # Each target pairs with every source set that leaves it out.
        return len(self.targets) * math.comb(self.n_variables - 1, self.sources)

    def chunk_range(self, index: int) -> tuple[int, int]:
        start = index * self.sets_per_chunk
        return start, min(start + self.sets_per_chunk, self.n_sets)


def _unrank(rank: int, n: int, k: int) -> list[int]:
    """The k-combination of range(n) at position ``rank`` in lexicographic order."""
    combo = []
    x = 0
    for i in range(k):
        while True:
            # Combinations whose i-th element is x: choose the remaining k - i - 1 above x.
            below = math.comb(n - x - 1, k - i - 1)
            if rank < below:
                break
            rank -= below
            x += 1
        combo.append(x)
        x += 1
    return combo


def source_sets(plan: Plan, index: int) -> np.ndarray:
    """The chunk's source sets, shape (n_sets_in_chunk, sources), in lexicographic order.

    Found from the chunk's first rank, so a chunk costs the same wherever it sits (skipping
    to it through itertools.combinations would cost O(rank)).
    """
    start, stop = plan.chunk_range(index)
    n, k = plan.n_variables, plan.sources
    out = np.empty((stop - start, k), dtype=np.int64)
    combo = _unrank(start, n, k) if stop > start else []
    for row in range(stop - start):
        out[row] = combo
        i = k - 1
        while i >= 0 and combo[i] == n - k + i:
            i -= 1
        if i < 0:
            break
        combo[i] += 1
        for j in range(i + 1, k):
            combo[j] = combo[j - 1] + 1
    return out


def _values(
    counts: np.ndarray, valid: np.ndarray, plan: Plan
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sample counts and measure columns (bits; NaN where a row has no complete sample)."""
    rows = counts[valid]
    n = rows.sum(axis=(1, 2))
    used = n > 0
    tables = rows[used] / n[used, None, None]
    tables = tables.reshape(len(tables), *([plan.radix] * (plan.sources + 1)))
    names = ("mutual_information", *(m for m in plan.measures if m != "mutual_information"))
    columns: dict[str, np.ndarray] = {}
    for measure in names:
        for column, values in evaluate(measure, tables).items():
            full = np.full(len(rows), np.nan)
            full[used] = values
            columns[column] = full
    return n, columns


def run_chunk(counter: Counter, plan: Plan, index: int) -> dict[str, np.ndarray]:
    """Rows of chunk ``index``: variable indices, n_samples, measures and p-values."""
    sets = source_sets(plan, index)
    targets = np.asarray(plan.targets, dtype=np.int64)
    # A (set, target) pair is a row unless the target is one of the set's sources.
    valid = ~(sets[:, :, None] == targets[None, None, :]).any(axis=1)
    counts = counter.count(sets)
    n, columns = _values(counts, valid, plan)
    set_of_row, target_of_row = np.nonzero(valid)
    out: dict[str, np.ndarray] = {}
    for a in range(plan.sources):
        out[f"source_{a + 1}"] = sets[set_of_row, a]
    out["target"] = targets[target_of_row]
    out["n_samples"] = n.astype(np.int64)
    out.update(columns)
    if plan.n_permutations:
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(plan.seed_entropy, spawn_key=(index,)))
        )
        at_least = {m: np.zeros(len(n), dtype=np.int64) for m in plan.measures}
        for _ in range(plan.n_permutations):
            # One shuffle of the sample order moves every target column of the chunk at once.
            shuffled = counter.tgt[rng.permutation(plan.n_samples)]
            _, null = _values(counter.count(sets, shuffled), valid, plan)
            for m in plan.measures:
                at_least[m] += null[m] >= columns[m] - TIE_BITS
        for m in plan.measures:
            p = (1.0 + at_least[m]) / (1.0 + plan.n_permutations)
            out[f"{m}_p"] = np.where(np.isnan(columns[m]), np.nan, p)
    return out
