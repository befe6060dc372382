"""synergy.scan: every (source set, target) row against the per-table public functions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import synergy
from synergy import InvalidParameterError, InvalidTypeError
from synergy._scan._kernels import count_tables
from synergy.pid import register_alias, unregister_measure
from synergy.tables import from_samples

pd = pytest.importorskip("pandas")


def _recording(n: int = 500, seed: int = 0):
    """Six variables: a planted XOR and AND, a 3-level noise column, strings and gaps."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 2, size=(2, n))
    noise = rng.integers(0, 3, size=n)
    frame = pd.DataFrame(
        {
            "a": a,
            "b": b,
            "xor": a ^ b,
            "and": a & b,
            "noise": noise.astype(float),
            "word": np.array(["x", "y"])[rng.integers(0, 2, size=n)].astype(object),
        }
    )
    frame.loc[rng.random(n) < 0.05, "noise"] = np.nan
    frame.loc[rng.random(n) < 0.05, "word"] = None
    return frame


def _per_table(frame, row, sources):
    cols = [row[f"source_{i + 1}"] for i in range(sources)] + [row["target"]]
    kept = frame[cols].dropna()
    table, _ = from_samples(*(kept[c].tolist() for c in cols))
    return len(kept), table


def test_rows_equal_the_per_table_calls_on_from_samples():
    frame = _recording()
    result = synergy.scan(frame, measures=["wms", "s_max", "i_min", "i_max", "s_vk"])
    n_vars = frame.shape[1]
    # 6 targets, each with every pair of the 5 other variables.
    assert len(result) == n_vars * math.comb(n_vars - 1, 2)
    for _, row in result.iterrows():
        n, table = _per_table(frame, row, 2)
        assert row["n_samples"] == n
        expected = {
            "mutual_information": synergy.mutual_information(table),
            "wms": synergy.wms(table),
            "s_max": synergy.s_max(table),
            "i_min": synergy.i_min(table),
            "i_max": synergy.i_max(table),
        }
        for column, value in expected.items():
            # Padding with zero-probability symbols changes only the summation order.
            np.testing.assert_allclose(row[column], value, rtol=0, atol=1e-9, err_msg=column)
        # The scan solves its tables in one batch; the batched solver agrees with the
        # per-table one to 1e-9 bits, and both intervals [synergy, synergy + gap] hold S_VK,
        # so they overlap.
        union = synergy.union_information(table)
        np.testing.assert_allclose(row["s_vk"], union.synergy, rtol=0, atol=1e-9)
        assert 0.0 <= row["s_vk_gap"] <= 1e-9
        assert row["s_vk"] <= union.synergy + union.gap + 1e-12
        assert union.synergy <= row["s_vk"] + row["s_vk_gap"] + 1e-12


def test_rows_come_in_combination_order_and_use_the_names():
    frame = _recording(n=100)
    result = synergy.scan(frame, measures=["wms"])
    names = list(frame.columns)
    expected = [
        (s1, s2, t)
        for s1, s2 in itertools.combinations(names, 2)
        for t in names
        if t not in (s1, s2)
    ]
    got = list(result[["source_1", "source_2", "target"]].itertuples(index=False, name=None))
    assert got == expected
    assert list(result.columns) == [
        "source_1",
        "source_2",
        "target",
        "n_samples",
        "mutual_information",
        "wms",
    ]


def test_a_2d_array_names_variables_by_position_and_planted_xor_ranks_first():
    frame = _recording()
    data = frame[["a", "b", "xor", "and"]].to_numpy()
    result = synergy.scan(data, measures=["s_vk"])
    top = result.sort_values("s_vk", ascending=False).iloc[0]
    # xor = a ^ b: S_VK({a, b}; xor) is I(a, b; xor) ~ 1 bit, the largest of the table.
    assert (top["source_1"], top["source_2"], top["target"]) == (0, 1, 2)
    assert top["s_vk"] > 0.95


def test_targets_restrict_the_rows_and_three_sources_match_from_samples():
    frame = _recording(n=300)
    result = synergy.scan(
        frame, sources=3, targets=["xor", "word"], measures=["wms", "i_min", "imin"]
    )
    # Two targets, each with every triple of the 5 other variables.
    assert len(result) == 2 * math.comb(5, 3)
    assert set(result["target"]) == {"xor", "word"}
    for _, row in result.iterrows():
        n, table = _per_table(frame, row, 3)
        assert row["n_samples"] == n
        np.testing.assert_allclose(row["wms"], synergy.wms(table), atol=1e-9)
        np.testing.assert_allclose(row["i_min"], synergy.i_min(table), atol=1e-9)
        # A decompose() measure's column is its synergy atom.
        np.testing.assert_allclose(
            row["imin"], synergy.decompose(table, "imin").synergy, atol=1e-9
        )


def test_every_decompose_measure_is_a_scan_measure():
    # A measure registered later shows up in scan with no change to scan's code: here a
    # second name of the I_max decomposition, whose synergy atom is the reference.
    register_alias("later", "imax")
    try:
        assert "later" in synergy.pid.MEASURES
        frame = _recording(n=200)[["a", "b", "xor"]]
        result = synergy.scan(frame, measures=["later", "broja"])
    finally:
        unregister_measure("later")
    for _, row in result.iterrows():
        _, table = _per_table(frame, row, 2)
        np.testing.assert_allclose(
            row["later"], synergy.decompose(table, "imax").synergy, atol=1e-9
        )
        np.testing.assert_allclose(
            row["broja"], synergy.decompose(table, "broja").synergy, atol=1e-8
        )


@pytest.mark.parametrize(("radix", "k"), [(2, 2), (3, 2), (2, 3), (3, 3)])
def test_bitset_and_direct_kernels_count_the_same(radix, k):
    rng = np.random.default_rng(radix * 10 + k)
    # 130 samples: the last bitset word is partly used; -1 marks missing values.
    codes = rng.integers(-1, radix, size=(130, 6)).astype(np.int32)
    sets = np.array(list(itertools.combinations(range(6), k)))
    bits = count_tables(codes, sets, codes, radix, kernel="bits")
    direct = count_tables(codes, sets, codes, radix, kernel="direct")
    np.testing.assert_array_equal(bits, direct)
    # One cell checked by hand: set 0, target 5, all-zero codes.
    hand = np.count_nonzero(np.all(codes[:, list(sets[0])] == 0, axis=1) & (codes[:, 5] == 0))
    assert bits[0, 5, 0, 0] == hand


def test_bins_are_equal_frequency_and_ties_share_a_bin():
    from synergy._scan._encode import equal_frequency_bins

    values = np.array([0.5, 0.1, 0.3, 0.3, 0.9, np.nan, 0.7, 0.3])
    codes = equal_frequency_bins(values, 3)
    # 7 present values; a value's bin is floor(3 * (#values below it) / 7):
    # 0.1 -> 0, 0.3 (1 below) -> 0, 0.5 (4 below) -> 1, 0.7 (5 below) -> 2, 0.9 -> 2.
    np.testing.assert_array_equal(codes, [1, 0, 0, 0, 2, -1, 2, 0])


def test_float_columns_need_bins_and_bins_discretise_them():
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    y = rng.normal(size=400)
    data = pd.DataFrame({"x": x, "y": y, "s": (x + y > 0).astype(int)})
    with pytest.raises(InvalidParameterError, match=r"`data`.*column 'x'.*Pass bins=k"):
        synergy.scan(data, measures=["wms"])
    result = synergy.scan(data, bins=4, measures=["wms"])
    row = result[(result["source_1"] == "x") & (result["target"] == "s")].iloc[0]
    quartile = lambda v: (np.argsort(np.argsort(v)) * 4) // len(v)  # noqa: E731  distinct values
    table, _ = from_samples(quartile(x), quartile(y), data["s"].tolist())
    np.testing.assert_allclose(row["wms"], synergy.wms(table), atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "kind", "pattern"),
    [
        ({"measures": ["nope"]}, InvalidParameterError, r"`measures`.*unknown \['nope'\]"),
        ({"measures": ["broja"], "sources": 3}, InvalidParameterError, r"`measures`.*'broja'"),
        ({"sources": 4}, InvalidParameterError, r"`sources`.*fewer than the 4 variables"),
        ({"sources": 1.5}, InvalidTypeError, r"`sources`"),
        ({"targets": ["zz"]}, InvalidParameterError, r"`targets`.*unknown \['zz'\]"),
        ({"names": ["a"]}, InvalidParameterError, r"`names`.*4 names"),
        ({"bins": 1}, InvalidParameterError, r"`bins`"),
        ({"n_permutations": -1}, InvalidParameterError, r"`n_permutations`"),
        ({"resume": True}, InvalidParameterError, r"`out`.*resume=True"),
        ({"progress": "yes"}, InvalidTypeError, r"`progress`"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, kind, pattern):
    data = pd.DataFrame({"a": [0, 1] * 5, "b": [0, 0, 1, 1, 0] * 2, "c": [1, 0] * 5, "d": 0})
    with pytest.raises(kind, match=pattern):
        synergy.scan(data, **kwargs)


# --- out=, resume, overwrite -------------------------------------------------------------


def _binary(n: int = 300, n_vars: int = 6, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 2, size=(n, n_vars))
    data[:, 2] = data[:, 0] ^ data[:, 1]
    return data


def test_out_holds_a_manifest_chunks_and_the_result(tmp_path):
    import json

    data = _binary()
    result = synergy.scan(data, measures=["wms", "s_max"], out=tmp_path / "run", chunk_size=10)
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    n_chunks = manifest["parameters"]["n_chunks"]
    # 15 pairs of 6 variables, 4 targets each: chunk_size=10 rows -> 3 pairs a chunk -> 5.
    assert n_chunks == 5
    assert files == [f"chunk-{i:06d}.parquet" for i in range(5)] + [
        "manifest.json",
        "result.parquet",
    ]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "run" / "result.parquet"), result)
    pd.testing.assert_frame_equal(result, synergy.scan(data, measures=["wms", "s_max"]))


def test_a_non_empty_out_needs_resume_or_overwrite(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    data = _binary(n=50, n_vars=4)
    with pytest.raises(InvalidParameterError, match="a new or empty directory") as info:
        synergy.scan(data, measures=["wms"], out=tmp_path)
    # The trainer's rule and wording (synergy/vae/training.py).
    assert "Pass resume=True (--resume)" in str(info.value)
    assert "overwrite=True (--overwrite)" in str(info.value)
    synergy.scan(data, measures=["wms"], out=tmp_path, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"  # nothing is deleted
    with pytest.raises(InvalidParameterError, match=r"manifest\.json to resume"):
        synergy.scan(data, measures=["wms"], out=tmp_path / "empty", resume=True)


def test_a_resume_with_other_parameters_says_which_differ(tmp_path):
    data = _binary(n=50, n_vars=4)
    synergy.scan(data, measures=["wms"], out=tmp_path, n_permutations=2, seed=1)
    with pytest.raises(InvalidParameterError, match=r"`resume`.*different measures=\['s_max'\]"):
        synergy.scan(data, measures=["s_max"], out=tmp_path, resume=True, n_permutations=2, seed=1)
    with pytest.raises(InvalidParameterError, match=r"different seed_entropy=2 \(saved 1\)"):
        synergy.scan(data, measures=["wms"], out=tmp_path, resume=True, n_permutations=2, seed=2)
    changed = data.copy()
    changed[0, 0] ^= 1
    with pytest.raises(InvalidParameterError, match="different data="):
        synergy.scan(
            changed, measures=["wms"], out=tmp_path, resume=True, n_permutations=2, seed=1
        )


def test_a_resume_without_seed_keeps_the_saved_permutation_streams(tmp_path):
    data = _binary(n=80, n_vars=4)
    first = synergy.scan(data, measures=["wms"], out=tmp_path, n_permutations=20, chunk_size=4)
    (tmp_path / "chunk-000001.parquet").unlink()
    again = synergy.scan(
        data, measures=["wms"], out=tmp_path, n_permutations=20, chunk_size=4, resume=True
    )
    pd.testing.assert_frame_equal(again, first)


_KILLED_SCAN = """
import os, signal, sys
import numpy as np
import synergy._scan._store as store

data = np.load(sys.argv[2])
real_replace = os.replace
calls = []

def replace_then_die(src, dst):
    # Killed while the second chunk is still a temporary file: chunk 0 is whole on disk.
    if os.path.basename(dst) == "chunk-000001.parquet":
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)

store.os.replace = replace_then_die
import synergy
synergy.scan(data, measures=["wms", "s_max"], out=sys.argv[1], chunk_size=10,
             n_permutations=5, seed=7, progress=False)
"""


def test_a_scan_killed_with_sigkill_resumes_to_the_same_table(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    data = _binary()
    np.save(tmp_path / "data.npy", data)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_SCAN, str(out), str(tmp_path / "data.npy")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    on_disk = sorted(p.name for p in out.iterdir())
    assert "chunk-000000.parquet" in on_disk
    assert "chunk-000001.parquet" not in on_disk
    assert any(name.startswith(".tmp-") for name in on_disk)  # the interrupted write
    kwargs = {"measures": ["wms", "s_max"], "chunk_size": 10, "n_permutations": 5, "seed": 7}
    resumed = synergy.scan(data, out=out, resume=True, **kwargs)
    straight = synergy.scan(data, **kwargs)
    pd.testing.assert_frame_equal(resumed, straight)
    keys = resumed[["source_1", "source_2", "target"]]
    assert not keys.duplicated().any()
    assert len(resumed) == 6 * math.comb(5, 2)


# --- permutations and q-values ------------------------------------------------------------


def test_permutation_p_values_follow_the_documented_procedure():
    # Recomputed here with from_samples and the public measures: chunk_size=1 puts each
    # source set in its own chunk, whose stream is SeedSequence(seed, spawn_key=(chunk,)),
    # and each of its shuffles permutes the sample order of every target column.
    data = _binary(n=120, n_vars=4, seed=11)
    n_perm, seed = 12, 5
    result = synergy.scan(
        data, measures=["wms", "s_max"], n_permutations=n_perm, seed=seed, chunk_size=1
    )
    expected = []
    for chunk, (i, j) in enumerate(itertools.combinations(range(4), 2)):
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(chunk,)))
        )
        perms = [rng.permutation(len(data)) for _ in range(n_perm)]
        for t in (t for t in range(4) if t not in (i, j)):
            table, _ = from_samples(data[:, i], data[:, j], data[:, t])
            row = {}
            for name, f in (("wms", synergy.wms), ("s_max", synergy.s_max)):
                observed = f(table)
                at_least = sum(
                    f(from_samples(data[:, i], data[:, j], data[perm, t])[0]) >= observed - 1e-9
                    for perm in perms
                )
                row[name] = (1 + at_least) / (1 + n_perm)
            expected.append(row)
    np.testing.assert_allclose(result["wms_p"], [r["wms"] for r in expected], rtol=0, atol=0)
    np.testing.assert_allclose(result["s_max_p"], [r["s_max"] for r in expected], rtol=0, atol=0)
    # The planted XOR (variables 0, 1 -> 2) beats every shuffle.
    xor = (result["source_1"] == 0) & (result["source_2"] == 1) & (result["target"] == 2)
    assert result.loc[xor, "s_max_p"].item() == 1 / (1 + n_perm)


def test_q_values_are_benjamini_hochberg_across_all_rows():
    data = _binary(n=150, n_vars=5, seed=2)
    result = synergy.scan(data, measures=["wms"], n_permutations=9, seed=0)
    p = result["wms_p"].to_numpy()
    # By hand: q_(i) = min over j >= i of p_(j) * m / j, on the p-values sorted ascending.
    order = np.argsort(p)
    m = len(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    q = np.empty(m)
    q[order] = q_sorted
    np.testing.assert_allclose(result["wms_q"], q, rtol=1e-12)
    assert list(result.columns[-2:]) == ["wms_p", "wms_q"]


# --- Dask ---------------------------------------------------------------------------------


# The cluster tests share one xdist group (`--dist loadgroup` in the Makefile), so that one
# worker runs them all and `make test` starts one LocalCluster, not one per worker.
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.xdist_group("dask-cluster")
def test_a_dask_scan_equals_the_local_scan(dask_client, tmp_path):
    data = _binary(n=200, n_vars=6, seed=4)
    kwargs = {"measures": ["wms", "s_vk"], "n_permutations": 4, "seed": 3, "chunk_size": 8}
    local = synergy.scan(data, **kwargs)
    remote = synergy.scan(data, client=dask_client, out=tmp_path / "run", **kwargs)
    pd.testing.assert_frame_equal(remote, local)
    # A resume on the cluster of a finished local scan reads every chunk back.
    resumed = synergy.scan(data, client=dask_client, out=tmp_path / "run", resume=True, **kwargs)
    pd.testing.assert_frame_equal(resumed, local)


def _hold_chunks_until(gate: str) -> None:
    """In a worker: chunks after the first wait for ``gate`` (a worker started later does not)."""
    import os
    import time

    import synergy._scan._chunks as chunks

    real = chunks.run_chunk

    def held(codes, plan, index):
        deadline = time.monotonic() + 60
        while index > 0 and not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.02)
        return real(codes, plan, index)

    chunks.run_chunk = held


@pytest.mark.xdist_group("dask-cluster")
def test_a_worker_killed_mid_scan_is_replaced_and_the_table_is_the_same(dask_client, tmp_path):
    import os
    import signal
    import threading
    import time

    data = _binary(n=200, n_vars=6, seed=5)
    kwargs = {"measures": ["wms", "s_max"], "n_permutations": 3, "seed": 1, "chunk_size": 1}
    local = synergy.scan(data, **kwargs)
    gate = tmp_path / "gate"
    out = tmp_path / "run"
    dask_client.run(_hold_chunks_until, str(gate))
    found: dict = {}

    def run():
        try:
            found["table"] = synergy.scan(data, client=dask_client, out=out, **kwargs)
        except BaseException as exc:  # re-raised below, in the test's thread
            found["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while not (out / "chunk-000000.parquet").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    # Every other chunk is held on a worker: the scan cannot have finished.
    assert thread.is_alive()
    victim_address, victim_pid = next(iter(dask_client.run(os.getpid).items()))
    os.kill(victim_pid, signal.SIGKILL)
    gate.touch()
    thread.join(timeout=120)
    assert not thread.is_alive()
    if "error" in found:
        raise found["error"]
    pd.testing.assert_frame_equal(found["table"], local)
    # The nanny started a new worker process in place of the killed one.
    dask_client.wait_for_workers(2, timeout=30)
    assert victim_pid not in dask_client.run(os.getpid).values(), victim_address


@pytest.mark.xdist_group("dask-cluster")
def test_the_scan_command_runs_on_a_scheduler_address(dask_client, tmp_path, capsys):
    from synergy.__main__ import main

    frame = _recording(n=100)[["a", "b", "xor"]]
    frame.to_parquet(tmp_path / "rec.parquet")
    address = dask_client.scheduler.address
    argv = ["scan", str(tmp_path / "rec.parquet"), "--out", str(tmp_path / "run")]
    assert main([*argv, "--measures", "wms", "--scheduler", address]) == 0
    written = pd.read_parquet(tmp_path / "run" / "result.parquet")
    pd.testing.assert_frame_equal(written, synergy.scan(frame, measures=["wms"]))
    assert "top 3 by wms" in capsys.readouterr().out


# --- the command line ---------------------------------------------------------------------


def test_the_scan_command_writes_parquet_and_prints_the_top_rows(tmp_path, capsys):
    from synergy.__main__ import main

    frame = _recording(n=200)[["a", "b", "xor", "and"]]
    frame.to_csv(tmp_path / "rec.csv", index=False)
    argv = ["scan", str(tmp_path / "rec.csv"), "--out", str(tmp_path / "run")]
    assert main([*argv, "--measures", "s_max,s_vk", "--targets", "xor,and", "--top", "2"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == "top 2 by s_vk (bits):"
    # The planted XOR heads the list: sources a, b, target xor.
    assert printed[3].split()[:3] == ["a", "b", "xor"]
    written = pd.read_parquet(tmp_path / "run" / "result.parquet")
    expected = synergy.scan(frame, measures=["s_max", "s_vk"], targets=["xor", "and"])
    pd.testing.assert_frame_equal(written, expected)


def _user_mmi(p, alpha):
    """I_cap(alpha) = min over the antichain's elements A of I(A; Y), in bits (a user's MMI)."""
    from scipy.special import entr

    k = p.ndim - 1
    values = []
    for element in alpha:
        joint = p.sum(axis=tuple(a for a in range(k) if a not in element))
        joint = joint.reshape(-1, p.shape[-1])
        h = lambda q: float(entr(q).sum()) / np.log(2)  # noqa: E731
        values.append(h(joint.sum(axis=1)) + h(joint.sum(axis=0)) - h(joint))
    return min(values)


def test_the_scan_command_ranks_by_a_measure_registered_later(tmp_path, capsys):
    from synergy.__main__ import main
    from synergy.pid import register_measure

    frame = _recording(n=200)[["a", "b", "xor", "and"]]
    frame.to_csv(tmp_path / "rec.csv", index=False)
    argv = ["scan", str(tmp_path / "rec.csv"), "--out", str(tmp_path / "run"), "--top", "4"]
    register_measure("user_mmi", _user_mmi, max_sources=2)
    try:
        # i_min is a redundancy, not a synergy: the user's measure is the one to rank by.
        assert main([*argv, "--measures", "i_min,user_mmi"]) == 0
    finally:
        unregister_measure("user_mmi")
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == "top 4 by user_mmi (bits):"
    written = pd.read_parquet(tmp_path / "run" / "result.parquet")
    # Reference: the library's own MMI decomposition of each row's table.
    for _, row in written.iterrows():
        _, table = _per_table(frame, row, 2)
        np.testing.assert_allclose(
            row["user_mmi"], synergy.decompose(table, "mmi").synergy, atol=1e-12
        )
    top = written.sort_values("user_mmi", ascending=False, kind="stable").head(4)
    shown = [line.split()[:3] for line in printed[3:7]]
    assert shown == top[["source_1", "source_2", "target"]].to_numpy().tolist()
    assert shown[0] == ["a", "b", "xor"]  # the planted XOR: 1 bit of synergy


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--measures", "nope"], "`measures` parameter of scan"),
        (["--sources", "x"], "argument --sources: invalid int value"),
        (["--bins", "1"], "`bins` parameter of scan"),
    ],
)
def test_scan_command_user_errors_are_one_line_and_status_2(tmp_path, capsys, extra, message):
    from synergy.__main__ import main

    _recording(n=50).to_csv(tmp_path / "rec.csv", index=False)
    try:
        status = main(["scan", str(tmp_path / "rec.csv"), "--out", str(tmp_path / "o"), *extra])
    except SystemExit as exc:  # argparse's own errors exit from parse_args
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert message in err


def test_scan_command_refuses_a_used_out_and_a_missing_file_in_one_line(tmp_path):
    import subprocess
    import sys

    _recording(n=50).to_csv(tmp_path / "rec.csv", index=False)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    for data, out, message in [
        ("rec.csv", "used", "Pass resume=True (--resume)"),
        ("missing.csv", "o", "no such file"),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "synergy", "scan", data, "--out", out],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert message in proc.stderr


def test_columns_with_too_many_levels_are_named():
    ids = np.arange(1200)  # 1,200 distinct integers in two columns: 1200 * 1200 * 3 cells
    data = pd.DataFrame({"id": ids, "id2": ids[::-1], "a": ids % 2, "b": ids % 3})
    with pytest.raises(
        InvalidParameterError, match=r"columns 'id' with 1200, 'id2' with 1200, 'b' with 3 dis"
    ):
        synergy.scan(data, measures=["wms"])
    # Binned, they are ordinary columns.
    assert len(synergy.scan(data, measures=["wms"], bins=4)) == 12
    # One such column is only as wide as its own tables (1200 * 3 * 2 cells at most).
    assert len(synergy.scan(data.drop(columns="id2"), measures=["wms"])) == 3


def test_s_vk_goes_through_the_batched_solver_once_it_takes_batch_ndim(monkeypatch):
    # The seam checks the signature: a union_information with `batch_ndim` gets the whole
    # chunk in one call (here a stand-in that answers with the per-table solver's values).
    from types import SimpleNamespace

    real = synergy.pid.union_information
    calls = []

    def batched(p, sources=None, *, batch_ndim=0, validate=True):
        calls.append(np.shape(p))
        results = [real(t) for t in np.reshape(p, (-1, *np.shape(p)[batch_ndim:]))]
        return SimpleNamespace(
            synergy=np.array([r.synergy for r in results]), gap=np.array([r.gap for r in results])
        )

    frame = _recording(n=200)[["a", "b", "xor", "and"]]
    expected = synergy.scan(frame, measures=["s_vk"])
    monkeypatch.setattr(synergy.pid, "union_information", batched)
    got = synergy.scan(frame, measures=["s_vk"])
    # One call for the measure check on a uniform table, one for the only chunk (12 rows).
    assert calls == [(1, 2, 2, 2), (12, 2, 2, 2)]
    pd.testing.assert_frame_equal(got, expected)


def test_progress_bar_counts_rows(capsys):
    pytest.importorskip("tqdm")
    synergy.scan(_binary(n=50, n_vars=4), measures=["wms"], progress=True, chunk_size=3)
    err = capsys.readouterr().err
    # 4 targets x C(3, 2) pairs = 12 rows.
    assert "12/12" in err
    assert "row/s" in err


@pytest.mark.parametrize(("n", "k", "per_chunk"), [(7, 2, 1), (7, 2, 4), (8, 3, 5), (6, 4, 2)])
def test_chunks_cover_the_combinations_in_order_once(n, k, per_chunk):
    from synergy._scan._chunks import Plan, source_sets

    plan = Plan(n, 10, k, tuple(range(n)), ("wms",), 2, 0, 0, per_chunk)
    got = np.concatenate([source_sets(plan, i) for i in range(plan.n_chunks)])
    np.testing.assert_array_equal(got, list(itertools.combinations(range(n), k)))


def test_scan_command_interrupted_says_how_to_continue(tmp_path, capsys, monkeypatch):
    import synergy._scan
    from synergy.__main__ import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(synergy._scan, "scan", interrupted)
    _recording(n=20).to_csv(tmp_path / "rec.csv", index=False)
    status = main(["scan", str(tmp_path / "rec.csv"), "--out", str(tmp_path / "o")])
    assert status == 130
    assert "continue with --resume" in capsys.readouterr().out
