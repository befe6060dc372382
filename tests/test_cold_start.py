"""What a first call compiles: one specialisation per kernel, and a warm cache that is used.

Compile time itself is measured in benchmarks/bench_cold.py; these tests check the causes
that can be counted (numba's dispatcher signatures and compile events), each in a fresh
interpreter so that what other tests compiled does not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numba
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    bool(numba.config.DISABLE_JIT), reason="counts what numba compiles; nothing does without JIT"
)

_SPECIALISATIONS = """
import json
import numpy as np
import synergy
from synergy import _kernels
from synergy.testing import AND, XOR

batch = np.random.default_rng(0).dirichlet(np.ones(8), size=3).reshape(-1, 2, 2, 2)
# The gates are read-only, a user's arrays usually writable; the measures pass both
# (and their own marginals) down to the kernels.
for table in (XOR, np.array(XOR), AND, np.array(AND)):
    synergy.entropy(table)
    synergy.mutual_information(table)
    synergy.specific_information(table, 0)
    synergy.s_max(table)
synergy.wms(batch, batch_ndim=1)
synergy.i_min(batch, batch_ndim=1)
kernels = {
    "_short_rows_serial": _kernels._short_rows_serial,
    "_marginal_rows_serial": _kernels._marginal_rows_serial,
    "_specific_information_rows": _kernels._specific_information_rows,
    "_marginal_sum_rows": _kernels._marginal_sum_rows,
}
print(json.dumps({name: len(k.signatures) for name, k in kernels.items()}))
"""


def _run(script: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return out.stdout.strip().splitlines()[-1]


def test_read_only_and_writable_tables_share_one_specialisation() -> None:
    # Writability is part of a numba array type: each kernel used to compile twice (and
    # every kernel it calls with it) when one session saw both kinds of table.
    counts = json.loads(_run(_SPECIALISATIONS))
    assert counts == dict.fromkeys(counts, 1)


_FIRST_CALLS = """
import json
import numpy as np
from numba.core import event
with event.install_recorder("numba:compile") as recorder:
    import synergy
    from synergy.testing import AND, XOR
    p = np.random.default_rng(0).dirichlet(np.ones(8), size=100).reshape(-1, 2, 2, 2)
    synergy.entropy(XOR)
    synergy.mutual_information(XOR, 0, -1)
    synergy.s_max(AND)
    synergy.i_min(AND)
    synergy.wms(p, batch_ndim=1)
    synergy.s_vk(AND)
    synergy.decompose(AND, "broja")
names = sorted({ev.data["dispatcher"].py_func.__qualname__ for _, ev in recorder.buffer})
print(json.dumps(names))
"""


@pytest.mark.slow
def test_a_warm_cache_compiles_nothing(tmp_path: os.PathLike[str]) -> None:
    # A cache that numba silently invalidates costs every run as much as the first one.
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    assert json.loads(_run(_FIRST_CALLS, env))  # the empty cache: everything compiles
    assert json.loads(_run(_FIRST_CALLS, env)) == []


_VK_KERNELS = """
import json
import numba
import numpy as np
import synergy
from synergy import _tier
from synergy.pid import _vk_batch
from synergy.testing import AND, XOR

synergy.s_vk(AND)
synergy.s_vk(np.array(XOR))
batch = np.random.default_rng(0).dirichlet(np.ones(27), size=5).reshape(-1, 3, 3, 3)
synergy.union_information(batch, batch_ndim=1)
kernels = {
    name: len(kernel.signatures)
    for name, kernel in vars(_vk_batch).items()
    if isinstance(kernel, numba.core.registry.CPUDispatcher) and kernel.signatures
}
print(json.dumps(kernels))
"""


def test_the_batched_solver_compiles_each_kernel_once() -> None:
    # Each extra specialisation is a full compile of the kernel for the user to wait for:
    # writability is part of a numba array type (a read-only gate and a user's array each
    # compiled the whole solver), and a helper called with a literal argument (a counter
    # starting at 0, a flag True or False) compiles once per literal value.
    counts = json.loads(_run(_VK_KERNELS))
    assert "_solve_tables" in counts
    assert counts == dict.fromkeys(counts, 1)


_TIERED_FIRST_CALLS = """
import json
import numpy as np
from numba.core import event
with event.install_recorder("numba:compile") as recorder:
    import synergy
    from synergy import _tier
    from synergy.pid import _vk_batch
    from synergy.testing import AND
    warm = WARM
    table = np.random.default_rng(0).dirichlet(np.ones(27)).reshape(3, 3, 3)
    answers = [
        synergy.s_vk(AND),
        synergy.union_information(table).synergy,
        synergy.decompose(AND, "broja").synergy,
        synergy.s_vk(np.random.default_rng(1).dirichlet(np.ones(16)).reshape(2, 2, 2, 2)),
    ]
    first = {ev.data["dispatcher"].py_func.__qualname__ for _, ev in recorder.buffer}
    spent = _tier.interpreted_seconds
    if not warm:
        _tier.INTERPRETED_BUDGET = 0.0  # as if the interpreted solves had cost it
    answers.append(synergy.s_vk(AND))
    answers.append(synergy.s_vk(AND))
names = {ev.data["dispatcher"].py_func.__qualname__ for _, ev in recorder.buffer}
print(json.dumps({
    "answers": answers,
    "first": sorted(first),
    "later": sorted(names - first),
    "spent": spent,
    "spent_after": _tier.interpreted_seconds,
    "solve_tables": len(_vk_batch._solve_tables.signatures),
}))
"""

_SOLVER_KERNELS = {"_solve_tables", "_factor", "_chol_solve"}


def test_a_first_single_table_call_does_not_wait_for_the_solver(
    tmp_path: os.PathLike[str],
) -> None:
    # Issue 10, part 2: with an empty numba cache, single small tables run the solver's
    # kernel interpreted (no compile of it) until the interpreted solves have cost the
    # budget; then the kernel compiles once and is used; a later process with that cache
    # uses the compiled kernel at once (loaded, not compiled).
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    cold = json.loads(_run(_TIERED_FIRST_CALLS.replace("WARM", "False"), env))
    assert not _SOLVER_KERNELS & set(cold["first"])
    assert cold["spent"] > 0.0
    # The budget spent: the solver compiled once, and its calls stop costing interpreted time.
    assert "_solve_tables" in cold["later"]
    assert cold["solve_tables"] == 1
    assert cold["spent_after"] == cold["spent"]
    warm = json.loads(_run(_TIERED_FIRST_CALLS.replace("WARM", "True"), env))
    assert not _SOLVER_KERNELS & set(warm["first"] + warm["later"])
    assert warm["spent"] == 0.0
    assert warm["solve_tables"] == 1  # loaded from the cache, and used
    # S_VK(AND) = 0.5 bits (Bertschinger et al. 2014, the AND gate's synergy); the
    # interpreted, compiled and cached kernels agree to 1e-12 bits.
    assert abs(cold["answers"][0] - 0.5) <= 1e-9
    np.testing.assert_allclose(cold["answers"], warm["answers"], atol=1e-12, rtol=0)
    assert abs(cold["answers"][-1] - cold["answers"][0]) <= 1e-12
