"""scan(): synergy over every combination of a recording's variables, in-process or on Dask.

The recording is coded once; chunks of source sets are counted into joint tables by a compiled
kernel, measured by the batched public functions, and written as Parquet chunks that resume.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
import sys
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import numpy as np

from synergy._scan._chunks import Plan, run_chunk
from synergy._scan._encode import encode
from synergy._scan._kernels import Counter
from synergy._scan._measures import columns_of, evaluate, known_measures
from synergy._scan._store import OutDir, plan_parameters, saved_parameters
from synergy._validate import InvalidTypeError, describe, invalid

__all__ = ["scan"]

logger = logging.getLogger(__name__)

_FUNC = "scan"
# Rows per chunk by default; a chunk's tables are counted and measured a slice at a time, so
# its memory does not depend on their size.
_DEFAULT_ROWS = 8192
_MAX_CELLS = 2**20


def _check_int(value: Any, param: str, low: int, expected: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid(param, _FUNC, expected, describe(value), kind=InvalidTypeError)
    if value < low:
        raise invalid(param, _FUNC, expected, repr(value))
    return int(value)


def _check_measures(measures: Any, sources: int) -> tuple[str, ...]:
    known = known_measures()
    expected = f"a sequence of measure names among {list(known)}"
    if isinstance(measures, str):
        measures = (measures,)
    if not isinstance(measures, Sequence) or not measures:
        raise invalid("measures", _FUNC, expected, describe(measures), kind=InvalidTypeError)
    names = tuple(measures)
    unknown = [m for m in names if not isinstance(m, str) or m not in known]
    if unknown:
        raise invalid("measures", _FUNC, expected, f"unknown {unknown}")
    if len(set(names)) != len(names):
        raise invalid("measures", _FUNC, "distinct measure names", repr(list(names)))
    # Each measure states its own limits (number of sources) on a table of the scan's shape.
    uniform = np.full((1,) + (2,) * (sources + 1), 0.5 ** (sources + 1))
    for m in names:
        try:
            evaluate(m, uniform)
        except ValueError as exc:
            raise invalid(
                "measures",
                _FUNC,
                f"measures defined for {sources} sources",
                repr(m),
                hint=f"({exc})",
            ) from exc
    return names


def _target_indices(targets: Any, names: tuple[Hashable, ...]) -> tuple[int, ...]:
    if targets is None:
        return tuple(range(len(names)))
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence):
        targets = [targets]
    index = {n: i for i, n in enumerate(names)}
    missing = [t for t in targets if t not in index]
    if missing or not targets:
        raise invalid(
            "targets",
            _FUNC,
            "None or variable names among the data's columns",
            f"{list(targets)!r}" + (f" (unknown {missing!r})" if missing else ""),
        )
    chosen = sorted({index[t] for t in targets})
    return tuple(chosen)


def _names_column(idx: np.ndarray, names: tuple[Hashable, ...]) -> Any:
    if all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in names):
        return np.asarray(names, dtype=np.int64)[idx]
    labels = np.empty(len(names), dtype=object)
    labels[:] = list(names)
    return labels[idx]


def _progress_bar(progress: Any, total: int, initial: int) -> Any:
    if progress is None:
        progress = sys.stderr.isatty()
        if progress:
            try:
                import tqdm
            except ImportError:
                progress = False
    if not isinstance(progress, bool):
        raise invalid(
            "progress", _FUNC, "None, True or False", describe(progress), kind=InvalidTypeError
        )
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError('scan(progress=True) needs tqdm: pip install "synergy[dask]"') from exc
    return tqdm(total=total, initial=initial, unit="row", desc="scan", smoothing=0.1)


def _local(counter: Counter, plan: Plan, todo: list[int]) -> Iterator[tuple[int, dict]]:
    for index in todo:
        yield index, run_chunk(counter, plan, index)


def _distributed(
    client: Any, counter: Counter, plan: Plan, todo: list[int]
) -> Iterator[tuple[int, dict]]:
    try:
        from distributed import as_completed
    except ImportError as exc:
        raise ImportError('scan(client=...) needs dask: pip install "synergy[dask]"') from exc
    if not todo:
        return
    # Scattered once; every chunk task depends on this one future, so a worker that joins or
    # replaces a lost one fetches the data from a peer, not from this process.
    data = client.scatter(counter, broadcast=True)
    futures = client.map(run_chunk, [data] * len(todo), [plan] * len(todo), todo, pure=False)
    index_of = {f.key: i for f, i in zip(futures, todo, strict=True)}
    try:
        for future, rows in as_completed(futures, with_results=True):
            yield index_of[future.key], rows
    finally:
        client.cancel(futures)


def _assemble(
    ordered: list[dict[str, np.ndarray]], plan: Plan, names: tuple[Hashable, ...]
) -> Any:
    """The result table from the chunks in order: names for indices, q-values over all rows."""
    import pandas as pd
    from scipy.stats import false_discovery_control

    k = plan.sources
    order = [f"source_{a + 1}" for a in range(k)] + ["target", "n_samples", "mutual_information"]
    for m in plan.measures:
        order += [c for c in columns_of(m) if c not in order]
    frame = pd.DataFrame({c: np.concatenate([chunk[c] for chunk in ordered]) for c in order})
    for c in order[: k + 1]:
        frame[c] = _names_column(frame[c].to_numpy(), names)
    if plan.n_permutations:
        for m in plan.measures:
            frame[f"{m}_p"] = np.concatenate([chunk[f"{m}_p"] for chunk in ordered])
        for m in plan.measures:
            p = frame[f"{m}_p"].to_numpy()
            q = np.full(len(p), np.nan)
            present = ~np.isnan(p)
            if present.any():
                q[present] = false_discovery_control(p[present], method="bh")
            frame[f"{m}_q"] = q
    return frame


def scan(
    data: Any,
    *,
    sources: int = 2,
    targets: Sequence[Hashable] | None = None,
    measures: Sequence[str] = ("wms", "s_max", "i_min", "s_vk"),
    names: Sequence[Hashable] | None = None,
    bins: int | None = None,
    n_permutations: int = 0,
    seed: int | None = None,
    client: Any = None,
    out: Any = None,
    resume: bool = False,
    overwrite: bool = False,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> Any:
    """Synergy of every set of ``sources`` variables about every other variable of a recording.

    Parameters
    ----------
    data : pandas.DataFrame or array_like of shape (n_samples, n_variables)
        One column per variable, any hashable labels; NaN or None is a missing value.
    sources : int, default 2, keyword-only
        Variables per source set (at least 2).
    targets : sequence of hashable, optional, keyword-only
        Names of the variables to use as targets; default every variable.
    measures : sequence of str, keyword-only
        Column names among "mutual_information", "wms", "i_max", "s_max", "i_min", "s_vk"
        (the public functions of that name) and any :data:`synergy.pid.MEASURES` name of
        :func:`synergy.decompose`, whose column is the decomposition's synergy atom.
    names : sequence of hashable, optional, keyword-only
        Variable names; default the DataFrame's columns, or the column positions 0, 1, ...
    bins : int, optional, keyword-only
        Cut every numeric column with more than ``bins`` distinct values into ``bins``
        equal-frequency bins (ties share a bin: see Notes).
    n_permutations : int, default 0, keyword-only
        Shuffles of the target column per row, for a permutation p-value per measure and
        Benjamini-Hochberg q-values across all rows.
    seed : int, optional, keyword-only
        Seed of the permutations (a fresh one when None; a resumed scan keeps the saved one).
    client : dask.distributed.Client, optional, keyword-only
        Run the chunks on this cluster; the coded data is scattered once. Default: in-process.
    out : str or path-like, optional, keyword-only
        Directory for ``manifest.json``, one Parquet file per finished chunk and, at the end,
        ``result.parquet``.
    resume : bool, default False, keyword-only
        Continue the scan in ``out``: finished chunks are read back, not recomputed.
    overwrite : bool, default False, keyword-only
        Allow a non-empty ``out`` that is not being resumed (files are written over, nothing
        is deleted).
    chunk_size : int, optional, keyword-only
        Rows per chunk (whole source sets, so chunks hold about this many). Default 8192, or
        on a resume the saved chunking. It fixes the permutation streams, so a resume must
        keep it.
    progress : bool, optional, keyword-only
        A tqdm bar counting rows, with rate and ETA; default on when stderr is a terminal.

    Returns
    -------
    pandas.DataFrame
        One row per (source set, target): ``source_1`` ... ``source_k``, ``target`` (names),
        ``n_samples`` (rows with no missing value among them), ``mutual_information``
        I(sources; target) in bits, one column per measure in bits, ``s_vk_gap`` (the
        solver's certified gap, bits) with "s_vk", and with permutations ``<measure>_p`` and
        ``<measure>_q``. A row with no complete sample has NaN values.

    Raises
    ------
    InvalidParameterError
        Bad parameters; a float column with many distinct values and no ``bins``; a
        non-empty ``out`` without ``resume`` or ``overwrite``; a resume whose parameters
        differ from the saved ones (the message names them).
    InvalidTypeError
        Parameters of the wrong type.
    ImportError
        pandas missing; pyarrow missing with ``out``; dask.distributed missing with
        ``client``.

    Notes
    -----
    Each row equals the per-table call on ``synergy.tables.from_samples`` of its columns
    (after dropping the samples where one of them is missing): the tables are counted from
    integer codes, each with its own columns' numbers of values, and a chunk's tables are
    measured in one batch per table shape, so a wide column costs wide tables only in its
    own rows. Equal-frequency bins: a value's bin is floor(bins * r / n), r the number
    of values strictly below it and n the number of non-missing values, so equal values
    always share a bin and ties can leave bins uneven. A permutation p-value is
    (1 + #{shuffles with value >= observed - 1e-9 bits}) / (1 + n_permutations); one shuffle
    of the sample order moves all the target columns of a chunk, from a stream spawned per
    chunk from ``seed``, so local, Dask and resumed runs agree. A shuffled target that is
    missing drops that sample from the shuffled table.

    Examples
    --------
    >>> import numpy as np
    >>> from synergy import scan
    >>> a, b = np.array([0, 0, 1, 1] * 100), np.array([0, 1, 0, 1] * 100)
    >>> data = np.column_stack([a, b, a ^ b])
    >>> table = scan(data, measures=["wms", "s_max"], progress=False)
    >>> table[["source_1", "source_2", "target", "n_samples"]].to_numpy().tolist()
    [[0, 1, 2, 400], [0, 2, 1, 400], [1, 2, 0, 400]]
    >>> round(float(table.loc[0, "s_max"]), 6)
    1.0
    """
    try:
        import pandas  # noqa: F401
    except ImportError as exc:
        raise ImportError('scan needs pandas: pip install "synergy[dask]"') from exc

    coded = encode(data, names=names, bins=bins)
    n_samples, n_variables = coded.codes.shape
    k = _check_int(sources, "sources", 2, "an integer >= 2")
    if k >= n_variables:
        raise invalid(
            "sources",
            _FUNC,
            f"fewer than the {n_variables} variables (one must be the target)",
            repr(k),
        )
    chosen = _target_indices(targets, coded.names)
    measure_names = _check_measures(measures, k)
    n_perm = _check_int(n_permutations, "n_permutations", 0, "an integer >= 0")
    if seed is not None:
        seed = _check_int(seed, "seed", 0, "None or an integer >= 0")
    if chunk_size is not None:
        chunk_size = _check_int(chunk_size, "chunk_size", 1, "None or an integer >= 1")
    for flag, value in (("resume", resume), ("overwrite", overwrite)):
        if not isinstance(value, bool):
            raise invalid(flag, _FUNC, "True or False", describe(value), kind=InvalidTypeError)
        if value and out is None:
            raise invalid("out", _FUNC, f"a directory when {flag}=True", "None")
    if resume and overwrite:
        raise invalid("overwrite", _FUNC, "False when resume=True", "True")

    radix = max(coded.levels)
    # The largest table a row builds: its k + 1 widest columns.
    widest = sorted(range(n_variables), key=lambda v: -coded.levels[v])[: k + 1]
    cells = math.prod(coded.levels[v] for v in widest)
    if cells > _MAX_CELLS:
        raise invalid(
            "sources",
            _FUNC,
            f"few enough that a table has at most {_MAX_CELLS} cells",
            f"{k} sources and columns "
            + ", ".join(f"{coded.names[v]!r} with {coded.levels[v]}" for v in widest)
            + f" distinct values ({cells} cells)",
            hint="Use fewer sources, or pass bins=k to cut numeric columns into k bins.",
        )
    saved = saved_parameters(out) if resume else None
    if seed is None and resume:
        entropy = saved["seed_entropy"] if saved else np.random.SeedSequence().entropy
    else:
        entropy = np.random.SeedSequence(seed).entropy
    plan = Plan(
        n_variables=n_variables,
        n_samples=n_samples,
        sources=k,
        targets=chosen,
        measures=measure_names,
        radix=radix,
        n_permutations=n_perm,
        seed_entropy=int(entropy),  # type: ignore[arg-type]
        sets_per_chunk=1,
    )
    if chunk_size is None and saved and "sets_per_chunk" in saved:
        # A resume keeps the chunks it is resuming, whatever the default chunking became.
        per_chunk = int(saved["sets_per_chunk"])
    else:
        # Whole source sets per chunk, as many as give about `rows` rows (a set's rows are
        # the targets outside it, n_rows / n_sets on average).
        rows = chunk_size or _DEFAULT_ROWS
        per_chunk = max(1, math.ceil(rows * plan.n_sets / plan.n_rows))
    plan = dataclasses.replace(plan, sets_per_chunk=per_chunk)
    store = None
    if out is not None:
        params = plan_parameters(plan, coded.names, bins, coded.fingerprint())
        store = OutDir(out, params, resume=resume, overwrite=overwrite)
    chunks: dict[int, dict[str, np.ndarray]] = {}
    if store is not None:
        chunks = {i: store.read_chunk(i) for i in sorted(store.finished(plan.n_chunks))}
    todo = [i for i in range(plan.n_chunks) if i not in chunks]
    logger.info(
        "scan: %d rows in %d chunks (%d to compute) over %d samples of %d variables",
        plan.n_rows,
        plan.n_chunks,
        len(todo),
        n_samples,
        n_variables,
    )
    initial = sum(len(c["target"]) for c in chunks.values())
    bar = _progress_bar(progress, plan.n_rows, initial)
    codes = coded.codes
    tgt = codes if list(chosen) == list(range(n_variables)) else codes[:, list(chosen)]
    counter = Counter.build(codes, tgt, coded.levels, tuple(coded.levels[t] for t in chosen))
    runner = (
        _local(counter, plan, todo)
        if client is None
        else _distributed(client, counter, plan, todo)
    )
    try:
        for index, result in runner:
            if store is not None:
                store.write_chunk(index, result)
            chunks[index] = result
            if bar is not None:
                bar.update(len(result["target"]))
    finally:
        if bar is not None:
            bar.close()

    frame = _assemble([chunks[i] for i in range(plan.n_chunks)], plan, coded.names)
    if store is not None:
        store.write_result(frame)
    return frame
