"""One chunk of a scan: its source sets, its joint tables, its measures and permutation counts.

A chunk is a pure function of the coded data, the plan and its index, so a local loop, a Dask
worker and a resumed run all compute the same rows, permutations included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synergy._scan._kernels import Counter
from synergy._scan._measures import columns_of, evaluate

__all__ = ["MAX_BATCH_CELLS", "TIE_BITS", "Plan", "run_chunk", "source_sets"]

#: A shuffled value counts as "at least the observed one" within this many bits, so that
#: rounding does not split ties (a constant target gives 0 both ways).
TIE_BITS = 1e-9
#: Cells counted and measured in one batch (32 MB of int64 counts), so that a chunk's memory
#: does not grow with its tables' size.
MAX_BATCH_CELLS = 2**22


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


def _shape_groups(
    counter: Counter, sets: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray, tuple[int, ...]]]:
    """The chunk's (set indices, target columns, table shape) blocks, one per table shape.

    A table has its own variables' numbers of values, so one wide column costs wide tables
    only in the rows it belongs to; the blocks come in a fixed order (sorted shapes).
    """
    src_levels = np.asarray(counter.levels, dtype=np.int64)[sets]
    tgt_levels = np.asarray(counter.tgt_levels, dtype=np.int64)
    set_shapes, set_group = np.unique(src_levels, axis=0, return_inverse=True)
    tgt_shapes, tgt_group = np.unique(tgt_levels, return_inverse=True)
    set_group, tgt_group = set_group.reshape(-1), tgt_group.reshape(-1)
    return [
        (
            np.flatnonzero(set_group == g),
            np.flatnonzero(tgt_group == h),
            (*(int(n) for n in shape), int(n_y)),
        )
        for g, shape in enumerate(set_shapes)
        for h, n_y in enumerate(tgt_shapes)
    ]


def _values(
    counter: Counter, sets: np.ndarray, valid: np.ndarray, plan: Plan
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sample counts and measure columns of the valid (set, target) pairs, in row order.

    Bits; NaN where a row has no complete sample. Each table shape is counted and measured
    as its own batch, in slices of at most ``MAX_BATCH_CELLS`` cells.
    """
    n_rows = int(np.count_nonzero(valid))
    row_of = np.full(valid.shape, -1, dtype=np.int64)
    row_of[valid] = np.arange(n_rows)
    names = ("mutual_information", *(m for m in plan.measures if m != "mutual_information"))
    n = np.zeros(n_rows, dtype=np.int64)
    columns = {c: np.full(n_rows, np.nan) for m in names for c in columns_of(m)}
    for set_idx, tgt_idx, shape in _shape_groups(counter, sets):
        cells = math.prod(shape) * len(tgt_idx)
        step = max(1, MAX_BATCH_CELLS // cells)
        for start in range(0, len(set_idx), step):
            block = set_idx[start : start + step]
            rows = row_of[np.ix_(block, tgt_idx)]
            keep = rows >= 0
            if not keep.any():
                continue
            counts = counter.count(sets[block], tgt_idx, shape)[keep]
            total = counts.sum(axis=(1, 2))
            at = rows[keep]
            n[at] = total
            used = total > 0
            tables = (counts[used] / total[used, None, None]).reshape(-1, *shape)
            if not len(tables):
                continue
            for measure in names:
                for column, values in evaluate(measure, tables).items():
                    columns[column][at[used]] = values
    return n, columns


def run_chunk(counter: Counter, plan: Plan, index: int) -> dict[str, np.ndarray]:
    """Rows of chunk ``index``: variable indices, n_samples, measures and p-values."""
    sets = source_sets(plan, index)
    targets = np.asarray(plan.targets, dtype=np.int64)
    # A (set, target) pair is a row unless the target is one of the set's sources.
    valid = ~(sets[:, :, None] == targets[None, None, :]).any(axis=1)
    n, columns = _values(counter, sets, valid, plan)
    set_of_row, target_of_row = np.nonzero(valid)
    out: dict[str, np.ndarray] = {}
    for a in range(plan.sources):
        out[f"source_{a + 1}"] = sets[set_of_row, a]
    out["target"] = targets[target_of_row]
    out["n_samples"] = n
    out.update(columns)
    if plan.n_permutations:
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(plan.seed_entropy, spawn_key=(index,)))
        )
        at_least = {m: np.zeros(len(n), dtype=np.int64) for m in plan.measures}
        for _ in range(plan.n_permutations):
            # One shuffle of the sample order moves every target column of the chunk at once.
            shuffled = counter.with_targets(counter.tgt[rng.permutation(plan.n_samples)])
            _, null = _values(shuffled, sets, valid, plan)
            for m in plan.measures:
                at_least[m] += null[m] >= columns[m] - TIE_BITS
        for m in plan.measures:
            p = (1.0 + at_least[m]) / (1.0 + plan.n_permutations)
            out[f"{m}_p"] = np.where(np.isnan(columns[m]), np.nan, p)
    return out
