"""synergy.scan on recordings whose columns have different numbers of values.

Each table keeps its own columns' numbers of values; these tests hold the rows to the ones the
scan gave when every table was padded to the widest column, and a scan directory written that
way to a resume by the current code.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

import synergy
import synergy._scan._chunks as chunks
from synergy import InvalidParameterError
from synergy._scan._chunks import Plan
from synergy._scan._encode import encode
from synergy._scan._kernels import Counter, count_tables
from synergy._scan._measures import evaluate
from synergy._scan._store import plan_parameters
from synergy.tables import from_samples

pd = pytest.importorskip("pandas")

CLOSED = ("wms", "s_max", "i_min")


def _mixed(n: int = 400, wide: int = 5, n_vars: int = 5, seed: int = 0) -> np.ndarray:
    """Binary columns, a planted XOR (1, 2 -> 3) and column 0 with ``wide`` values."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 2, size=(n, n_vars))
    data[:, 0] = rng.integers(0, wide, size=n)
    data[:, 3] = data[:, 1] ^ data[:, 2]
    return data


def _padded_to_the_widest(data: np.ndarray, measures: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Every (pair, target) row as the scan computed it before tables kept their own shapes
    (commit bbd05fc): all tables counted and measured at the widest column's number of values,
    in one batch. No missing values, so every row has samples."""
    coded = encode(data)
    radix = max(coded.levels)
    n_vars = len(coded.levels)
    sets = np.array(list(itertools.combinations(range(n_vars), 2)))
    counts = count_tables(coded.codes, sets, coded.codes, radix)
    valid = ~(sets[:, :, None] == np.arange(n_vars)[None, None, :]).any(axis=1)
    rows = counts[valid]
    n = rows.sum(axis=(1, 2))
    tables = (rows / n[:, None, None]).reshape(-1, radix, radix, radix)
    set_of_row, target_of_row = np.nonzero(valid)
    out = {
        "source_1": sets[set_of_row, 0],
        "source_2": sets[set_of_row, 1],
        "target": target_of_row.astype(np.int64),
        "n_samples": n,
    }
    for m in ("mutual_information", *measures):
        out.update(evaluate(m, tables))
    return out


def test_each_table_is_measured_at_its_own_shape(monkeypatch):
    shapes = []
    real = chunks.evaluate

    def recording(measure, tables):
        shapes.append(tables.shape[1:])
        return real(measure, tables)

    monkeypatch.setattr(chunks, "evaluate", recording)
    synergy.scan(_mixed(), measures=["wms"], progress=False)
    # Column 0 has 5 values, the others 2: a pair with column 0 gives (5, 2, 2) tables, column
    # 0 as target (2, 2, 5), the rest (2, 2, 2). Padded to the widest, all were (5, 5, 5).
    assert set(shapes) == {(2, 2, 2), (2, 2, 5), (5, 2, 2)}


def test_rows_equal_the_rows_padded_to_the_widest_column():
    data = _mixed(wide=4)
    measures = (*CLOSED, "i_max", "s_vk")
    result = synergy.scan(data, measures=list(measures), progress=False)
    before = _padded_to_the_widest(data, measures)
    for column in ("source_1", "source_2", "target", "n_samples"):
        np.testing.assert_array_equal(result[column].to_numpy(), before[column], err_msg=column)
    for column in ("mutual_information", *CLOSED, "i_max"):
        # Zero-probability symbols change only the order of the sums.
        np.testing.assert_allclose(result[column], before[column], rtol=0, atol=1e-12)
    # Both solves are certified: [s_vk, s_vk + gap] holds S_VK in each, and the two agree to
    # the batched solver's 1e-9 bits.
    np.testing.assert_allclose(result["s_vk"], before["s_vk"], rtol=0, atol=1e-9)
    assert np.all(result["s_vk"] <= before["s_vk"] + before["s_vk_gap"] + 1e-12)
    assert np.all(before["s_vk"] <= result["s_vk"] + result["s_vk_gap"] + 1e-12)


def test_mixed_rows_equal_the_per_table_calls_with_gaps_and_three_sources():
    data = _mixed(n=300, wide=3, n_vars=5, seed=4).astype(float)
    data[np.random.default_rng(1).random(data.shape) < 0.04] = np.nan
    frame = pd.DataFrame(data, columns=list("vwxyz"))
    result = synergy.scan(frame, sources=3, measures=["wms", "i_min", "imin"], progress=False)
    assert len(result) == 5 * math.comb(4, 3)
    for _, row in result.iterrows():
        cols = [row["source_1"], row["source_2"], row["source_3"], row["target"]]
        kept = frame[cols].dropna()
        table, _ = from_samples(*(kept[c].tolist() for c in cols))
        assert row["n_samples"] == len(kept)
        np.testing.assert_allclose(row["wms"], synergy.wms(table), atol=1e-12)
        np.testing.assert_allclose(row["i_min"], synergy.i_min(table), atol=1e-12)
        np.testing.assert_allclose(
            row["imin"], synergy.decompose(table, "imin").synergy, atol=1e-12
        )


def test_shapes_and_kernels_count_the_same_as_one_radix():
    rng = np.random.default_rng(7)
    levels = (2, 5, 3, 2, 17)  # 17 values: no bitsets, so its tables are counted directly
    codes = np.column_stack([rng.integers(-1, m, size=130) for m in levels]).astype(np.int32)
    counter = Counter.build(codes, codes, levels, levels)
    uniform = count_tables(codes, np.array([[1, 2]]), codes, 17)[0]
    for kernel in ("bits", "direct", None):
        got = counter.count(np.array([[1, 2]]), np.array([0, 3]), (5, 3, 2), kernel=kernel)
        # The (5, 3) source codes sit at 17 * a + b in the padded table.
        padded = uniform[[0, 3]].reshape(2, 17, 17, 17)[:, :5, :3, :2].reshape(2, 15, 2)
        np.testing.assert_array_equal(got[0], padded)
    wide = counter.count(np.array([[0, 4]]), np.array([2]), (2, 17, 3))
    np.testing.assert_array_equal(
        wide[0, 0].reshape(2, 17, 3),
        count_tables(codes, np.array([[0, 4]]), codes, 17)[0, 2].reshape(17, 17, 17)[:2, :, :3],
    )


# --- resuming a directory written with tables padded to the widest column ------------------

_OLD_CHUNK_CELLS = 2**22  # rows per chunk were min(8192, 2**22 // radix**(k + 1))


def _write_old_scan(path, data: np.ndarray) -> pd.DataFrame:
    """The out directory of ``scan(data, measures=CLOSED, out=path)`` before tables kept
    their own shapes: chunks sized for the widest table, values from padded tables, manifest
    format 1 (checked equal, file for file, to the directory commit bbd05fc writes)."""
    coded = encode(data)
    radix = max(coded.levels)
    n_vars = len(coded.levels)
    rows = min(8192, _OLD_CHUNK_CELLS // radix**3)
    n_sets, n_rows = math.comb(n_vars, 2), n_vars * math.comb(n_vars - 1, 2)
    plan = Plan(
        n_vars,
        len(data),
        2,
        tuple(range(n_vars)),
        CLOSED,
        radix,
        0,
        np.random.SeedSequence(0).entropy,
        max(1, math.ceil(rows * n_sets / n_rows)),
    )
    params = plan_parameters(plan, coded.names, None, coded.fingerprint())
    path.mkdir()
    body = json.dumps({"format": 1, "parameters": params}, indent=1, sort_keys=True)
    (path / "manifest.json").write_text(body + "\n")
    frame = pd.DataFrame(_padded_to_the_widest(data, CLOSED))
    order = ["source_1", "source_2", "target", "n_samples", "mutual_information", *CLOSED]
    frame = frame[order]
    per_chunk = plan.sets_per_chunk * (n_vars - 2)  # every pair has n_vars - 2 targets
    for i in range(plan.n_chunks):
        frame.iloc[i * per_chunk : (i + 1) * per_chunk].to_parquet(
            path / f"chunk-{i:06d}.parquet", index=False
        )
    frame.to_parquet(path / "result.parquet", index=False)
    return frame


def test_a_scan_written_with_padded_tables_resumes_in_its_own_chunks(tmp_path):
    # 8 variables, one with 40 values: the widest table had 64,000 cells, so the old chunks
    # held 65 rows (11 pairs of 6 targets); by default a chunk now holds 8192 rows.
    data = _mixed(n=300, wide=40, n_vars=8, seed=2)
    out = tmp_path / "run"
    old = _write_old_scan(out, data)
    assert json.loads((out / "manifest.json").read_text())["parameters"]["n_chunks"] == 3
    (out / "chunk-000001.parquet").unlink()  # the scan was stopped before its second chunk
    (out / "result.parquet").unlink()
    resumed = synergy.scan(data, measures=list(CLOSED), out=out, resume=True, seed=0)
    assert sorted(p.name for p in out.iterdir()) == [
        *(f"chunk-{i:06d}.parquet" for i in range(3)),
        "manifest.json",
        "result.parquet",
    ]
    fresh = synergy.scan(data, measures=list(CLOSED), seed=0)
    pd.testing.assert_frame_equal(resumed, fresh, check_exact=False, rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(resumed, old, check_exact=False, rtol=0, atol=1e-12)
    # A chunk_size that does not give the saved chunks is refused, naming the difference.
    with pytest.raises(
        InvalidParameterError,
        match=r"different n_chunks=1 \(saved 3\), sets_per_chunk=1366 \(saved 11\)",
    ):
        synergy.scan(data, measures=list(CLOSED), out=out, resume=True, seed=0, chunk_size=8192)


def test_a_resume_without_chunk_size_keeps_the_saved_chunks_and_p_values(tmp_path):
    data = _mixed(n=120, wide=3, n_vars=5, seed=9)
    kwargs = {"measures": ["wms"], "n_permutations": 6, "seed": 3}
    first = synergy.scan(data, out=tmp_path, chunk_size=7, **kwargs)
    (tmp_path / "chunk-000002.parquet").unlink()
    again = synergy.scan(data, out=tmp_path, resume=True, **kwargs)
    pd.testing.assert_frame_equal(again, first)


def test_a_manifest_of_another_format_is_refused_by_name(tmp_path):
    data = _mixed(n=60, wide=3)
    synergy.scan(data, measures=["wms"], out=tmp_path, seed=0)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["format"] == 1  # unchanged since the first scans: they resume as they are
    manifest["format"] = 2
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidParameterError, match=r"`out`.*manifest format 1.*Got format 2"):
        synergy.scan(data, measures=["wms"], out=tmp_path, resume=True, seed=0)
