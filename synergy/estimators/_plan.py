"""The resampling options of the sample estimators: checked once, with the random streams.

Bootstrap and permutations draw from two streams spawned from one seed.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synergy._validate import InvalidParameterError, InvalidTypeError, describe, invalid
from synergy.estimators._samples import _Samples

_METHODS = ("percentile", "basic", "bca")
_ALTERNATIVES = ("greater", "less")
_RESAMPLINGS = ("auto", "indices", "tables")


def _check_count(value: Any, param: str, func: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid(
            param, func, f"an integer >= {minimum}", describe(value), kind=InvalidTypeError
        )
    if value < minimum:
        raise invalid(param, func, f"an integer >= {minimum}", repr(value))
    return int(value)


def _check_level(level: Any, func: str) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real):
        raise invalid(
            "level", func, "a real number in (0, 1)", describe(level), kind=InvalidTypeError
        )
    if not 0.0 < float(level) < 1.0:
        raise invalid("level", func, "a real number in (0, 1), such as 0.95", repr(level))
    return float(level)


def _check_choice(value: Any, param: str, func: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise invalid(
            param,
            func,
            "one of " + ", ".join(repr(c) for c in choices),
            describe(value),
            kind=InvalidParameterError if isinstance(value, str) else InvalidTypeError,
        )
    return value


def _streams(seed: Any, func: str) -> tuple[np.random.Generator, np.random.Generator, int | None]:
    """Independent generators for the bootstrap and the permutations, and the seed to record.

    Spawning two streams from one SeedSequence makes ``estimate(seed=s)`` give the same
    interval as ``bootstrap(seed=s)`` and the same p-value as ``permutation_test(seed=s)``.
    """
    if isinstance(seed, np.random.Generator):
        return seed, seed, None
    if seed is None:
        sequence = np.random.SeedSequence()
        recorded: int | None = int(sequence.entropy)  # type: ignore[arg-type]
    elif isinstance(seed, np.random.SeedSequence):
        sequence = seed
        recorded = int(seed.entropy) if not seed.spawn_key else None  # type: ignore[arg-type]
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise invalid("seed", func, "a non-negative integer, a Generator or None", repr(seed))
        sequence = np.random.SeedSequence(int(seed))
        recorded = int(seed)
    else:
        raise invalid(
            "seed",
            func,
            "a non-negative integer, a numpy Generator or SeedSequence, or None",
            describe(seed),
            kind=InvalidTypeError,
        )
    boot, perm = sequence.spawn(2)
    return np.random.default_rng(boot), np.random.default_rng(perm), recorded


@dataclass(frozen=True)
class _Options:
    """Checked resampling options shared by every entry point."""

    n_resamples: int
    level: float | None
    method: str | None
    n_permutations: int
    alternative: str | None
    correction: str | None
    resampling: str | None


def _check_options(
    func: str,
    samples: _Samples,
    *,
    n_resamples: int,
    level: Any,
    method: Any,
    n_permutations: int,
    alternative: Any,
    correction: str | None,
    resampling: Any = "auto",
) -> _Options:
    level_value = _check_level(level, func) if n_resamples else None
    method_value = _check_choice(method, "method", func, _METHODS) if n_resamples else None
    alt = (
        _check_choice(alternative, "alternative", func, _ALTERNATIVES) if n_permutations else None
    )
    if n_permutations and len(samples.shape) < 2:
        raise invalid(
            "columns",
            func,
            "at least 2 sample columns for a permutation test (the last one is shuffled)",
            f"{len(samples.shape)} column",
        )
    if method_value == "bca" and samples.n < 2:
        raise invalid("method", func, "'percentile' or 'basic' with one sample", "'bca'")
    resamples = n_resamples or n_permutations
    how = _check_choice(resampling, "resampling", func, _RESAMPLINGS) if resamples else None
    if how == "auto":
        how = "tables" if samples.n > samples.n_cells else "indices"
    return _Options(n_resamples, level_value, method_value, n_permutations, alt, correction, how)
