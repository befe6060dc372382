"""synergy.torch: the closed-form measures on tensors agree with the numpy functions, and their
gradients with finite differences of the numpy functions, a hand-made chain rule and gradcheck.

The reference values are the numpy functions of synergy and synergy.pid, tested on their own
against dit and the papers' tables (tests/test_information.py, tests/test_pid_gates.py).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import synergy
import synergy.pid
from synergy._validate import InvalidDistributionError, InvalidParameterError, InvalidTypeError
from synergy.testing import GATES

torch = pytest.importorskip("torch")
st = pytest.importorskip("synergy.torch")

pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parent.parent


class Case:
    """One measure with fixed positional arguments: its torch and numpy versions."""

    def __init__(
        self,
        name: str,
        torch_fn: Callable[..., Any],
        numpy_fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        min_ndim: int = 2,
    ) -> None:
        self.name = name
        self.torch_fn = torch_fn
        self.numpy_fn = numpy_fn
        self.args = args
        self.kwargs = kwargs or {}
        self.min_ndim = min_ndim

    def t(self, p: Any, **kw: Any) -> Any:
        return self.torch_fn(p, *self.args, **self.kwargs, **kw)

    def n(self, p: Any, **kw: Any) -> Any:
        return self.numpy_fn(p, *self.args, **self.kwargs, **kw)


def _cases_for(table_ndim: int) -> list[Case]:
    """Every measure, with the default arguments and with explicit axes or groups that fit a
    table of ``table_ndim`` axes (target last)."""
    last = table_ndim - 1
    cases = [
        Case("entropy", st.entropy, synergy.entropy, min_ndim=1),
        Case("entropy[axes]", st.entropy, synergy.entropy, (0,), min_ndim=1),
        Case("mutual_information", st.mutual_information, synergy.mutual_information),
        Case(
            "mutual_information[a,b]",
            st.mutual_information,
            synergy.mutual_information,
            (0, tuple(range(1, table_ndim))),
        ),
        Case(
            "conditional_mutual_information",
            st.conditional_mutual_information,
            synergy.conditional_mutual_information,
            (0, last, tuple(range(1, last))),
        ),
        Case("wms", st.wms, synergy.pid.wms),
        Case("i_max", st.i_max, synergy.pid.i_max),
        Case("s_max", st.s_max, synergy.pid.s_max),
        Case("i_min", st.i_min, synergy.pid.i_min),
    ]
    if table_ndim >= 4:  # source groups: (X1, X2) as one variable, X3 alone
        groups = [(0, 1), tuple(range(2, last))]
        cases += [
            Case(
                f"{n}[groups]", getattr(st, n), getattr(synergy.pid, n), kwargs={"sources": groups}
            )
            for n in ("wms", "i_max", "s_max", "i_min")
        ]
    return cases


def _random_table(shape: tuple[int, ...], seed: int, *, zeros: int = 0) -> np.ndarray:
    """A seeded random table; ``zeros`` cells set to exactly 0 (never all of them)."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(math.prod(shape)))
    if zeros:
        p[rng.choice(p.size, size=zeros, replace=False)] = 0.0
        p /= p.sum()
    return p.reshape(shape)


def _t(p: np.ndarray, dtype: Any = None, requires_grad: bool = False) -> Any:
    return torch.tensor(np.array(p), dtype=dtype or torch.float64, requires_grad=requires_grad)


def _grad(case: Case, p: np.ndarray, **kw: Any) -> np.ndarray:
    x = _t(p, requires_grad=True)
    (g,) = torch.autograd.grad(case.t(x, **kw), x)
    return g.numpy()


def _ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


# ------------------------------------------------------------------------------- values


@pytest.mark.parametrize("gate", sorted(GATES))
def test_values_equal_numpy_on_every_gate(gate: str) -> None:
    table = GATES[gate].table
    for case in _cases_for(table.ndim):
        for base in (2, math.e):
            got = case.t(_t(table), base=base)
            assert got.shape == ()
            assert got.dtype == torch.float64
            want = case.n(table, base=base)
            assert abs(float(got) - want) <= 1e-9, (case.name, base, float(got), want)


RANDOM_SHAPES = [(2, 2, 2), (3, 3, 3), (2, 3, 4), (2, 2, 3, 2), (3, 2, 2, 3)]


@pytest.mark.parametrize("shape", RANDOM_SHAPES)
@pytest.mark.parametrize("zeros", [0, 3])
def test_values_equal_numpy_on_random_tables(shape: tuple[int, ...], zeros: int) -> None:
    for seed in range(3):
        table = _random_table(shape, seed, zeros=zeros)
        for case in _cases_for(len(shape)):
            got = float(case.t(_t(table)))
            assert abs(got - case.n(table)) <= 1e-9, (case.name, seed)


@pytest.mark.parametrize("shape", [(2, 3, 2), (2, 2, 2, 3)])
def test_batched_values_equal_numpy(shape: tuple[int, ...]) -> None:
    # batch shape (2, 3): interior tables, tables with zero cells and a gate-like corner.
    tables = np.stack([_random_table(shape, s, zeros=2 * (s % 3)) for s in range(6)])
    tables = tables.reshape(2, 3, *shape)
    for case in _cases_for(len(shape)):
        for batch_ndim, batch in [(2, tables), (1, tables[0])]:
            got = case.t(_t(batch), batch_ndim=batch_ndim)
            want = case.n(batch, batch_ndim=batch_ndim)
            assert got.shape == want.shape
            np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-9, err_msg=case.name)


# ---------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("shape", [(2, 3, 2), (2, 2, 2, 3)])
def test_gradcheck_on_interior_tables(shape: tuple[int, ...]) -> None:
    # gradcheck moves single cells off the simplex: validate=False, the formulas stay smooth
    # for positive cells. Random tables sit far from ties between sources (checked by
    # test_ties_take_the_mean_of_the_tied_branches for the tied case).
    table = _random_table(shape, 11)
    for case in _cases_for(len(shape)):
        x = _t(table, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda q, c=case: c.t(q, validate=False), (x,), eps=1e-6, atol=1e-8
        ), case.name


@pytest.mark.parametrize("gate", sorted(GATES))
def test_gradients_are_finite_at_zero_cells(gate: str) -> None:
    table = GATES[gate].table
    assert (table == 0).any()
    for case in _cases_for(table.ndim):
        g = _grad(case, table)
        assert np.isfinite(g).all(), case.name


def test_entropy_gradient_at_a_zero_cell_is_the_documented_zero() -> None:
    # d/dp of -sum p log2 p is -(log p + 1) / ln 2 at positive cells (calculus); at a zero
    # cell the package documents 0, the derivative of the constant branch.
    table = _random_table((2, 3), 5, zeros=2)
    g = _grad(Case("entropy", st.entropy, synergy.entropy), table)
    positive = table > 0
    np.testing.assert_allclose(
        g[positive], -(np.log(table[positive]) + 1) / math.log(2), rtol=1e-13
    )
    np.testing.assert_array_equal(g[~positive], 0.0)


@pytest.mark.parametrize("shape", [(2, 2, 2), (3, 3, 3), (2, 3, 4)])
def test_simplex_directions_match_central_differences_of_numpy(shape: tuple[int, ...]) -> None:
    # Along e_i - e_j the table stays on the simplex; the reference is the numpy function.
    # Dirichlet tables have cells down to ~1e-4, where -x log x bends sharply (its k-th
    # derivative grows like 1 / x^(k-1)), so the stencil is the fourth-order central one,
    # with a step scaled to the smaller cell: h = 1e-2 min(p_i, p_j) truncates by about
    # (h / x)^4 / 5 = 2e-9 and rounds by about eps |f| / h < 1e-8.
    rng = np.random.default_rng(7)
    for seed in range(2):
        table = _random_table(shape, 100 + seed)
        for case in _cases_for(len(shape)):
            g = _grad(case, table).ravel()
            for _ in range(3):
                i, j = rng.choice(table.size, size=2, replace=False)
                h = 1e-2 * min(table.flat[i], table.flat[j])
                d = np.zeros(table.size)
                d[i], d[j] = 1.0, -1.0
                d = d.reshape(shape)
                f = [case.n(table + k * h * d) for k in (-2, -1, 1, 2)]
                fd = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h)
                assert abs((g[i] - g[j]) - fd) <= 1e-7, (case.name, seed, i, j)


@pytest.mark.parametrize("shape", [(2, 3, 2), (2, 2, 2, 3)])
def test_batched_gradients_equal_per_table_gradients(shape: tuple[int, ...]) -> None:
    tables = np.stack([_random_table(shape, s, zeros=2 * (s % 2)) for s in range(4)])
    for case in _cases_for(len(shape)):
        x = _t(tables, requires_grad=True)
        (g_batch,) = torch.autograd.grad(case.t(x, batch_ndim=1).sum(), x)
        for k in range(len(tables)):
            np.testing.assert_allclose(
                g_batch[k].numpy(), _grad(case, tables[k]), rtol=1e-12, atol=1e-12
            )


def test_softmax_parametrisation_gets_the_chain_rule() -> None:
    # p = softmax(theta): dp_k/dtheta_l = p_k (delta_kl - p_l), so the gradient with
    # respect to theta is p * (g - <p, g>) with g the gradient with respect to p.
    shape = (2, 3, 2)
    theta = torch.tensor(np.random.default_rng(3).normal(size=6 * 2), dtype=torch.float64)
    for case in _cases_for(len(shape)):
        th = theta.clone().requires_grad_(True)
        p = torch.softmax(th, dim=0).reshape(shape)
        (g_theta,) = torch.autograd.grad(case.t(p), th)
        p_np = torch.softmax(theta, dim=0).numpy()
        g = _grad(case, p_np.reshape(shape)).ravel()
        want = p_np * (g - p_np @ g)
        np.testing.assert_allclose(g_theta.numpy(), want, rtol=1e-12, atol=1e-14)


def test_zero_cell_rule_is_the_softmax_limit() -> None:
    # A softmax user near a zero cell gets what the finite zero-cell gradient gives at the
    # cell: with logit -60 the cell holds ~1e-27 (a positive cell, exact formula), and the
    # logit gradient must match the chain rule p * (g - <p, g>) evaluated at the table whose
    # cell is exactly 0 (its own slope is then multiplied by p = 0; the other cells' slopes,
    # through the marginals, must be right).
    shape = (2, 3, 2)
    theta = np.random.default_rng(4).normal(size=12)
    theta[5] = -60.0
    p_limit = np.exp(theta) / np.exp(theta).sum()
    p_limit[5] = 0.0
    p_limit /= p_limit.sum()
    for case in _cases_for(len(shape)):
        th = torch.tensor(theta, requires_grad=True)
        (g_theta,) = torch.autograd.grad(case.t(torch.softmax(th, dim=0).reshape(shape)), th)
        g = _grad(case, p_limit.reshape(shape)).ravel()
        want = p_limit * (g - p_limit @ g)
        np.testing.assert_allclose(g_theta.numpy(), want, rtol=1e-9, atol=1e-12)


def _symmetric_table(seed: int) -> np.ndarray:
    q = _random_table((2, 2, 2), seed)
    # p[a, b, y] = p[b, a, y] exactly; each marginal cell is a sum of the same two numbers,
    # so the two sources' specific informations tie bit for bit.
    return (q + q.transpose(1, 0, 2)) / 2


def _mi_grad(p: np.ndarray, source: int) -> np.ndarray:
    return _grad(Case("mi", st.mutual_information, synergy.mutual_information, (source, 2)), p)


@pytest.mark.parametrize("func", ["i_max", "i_min"])
def test_ties_take_the_mean_of_the_tied_branches(func: str) -> None:
    # With every outcome tied, each branch is sum_y p(y) I(Y=y; X_i) = I(X_i; Y), so the
    # documented gradient is the mean of the gradients of I(X1; Y) and I(X2; Y).
    table = _symmetric_table(21)
    case = Case(func, getattr(st, func), getattr(synergy.pid, func))
    want = (_mi_grad(table, 0) + _mi_grad(table, 1)) / 2
    np.testing.assert_allclose(_grad(case, table), want, rtol=1e-12, atol=1e-12)


def test_away_from_ties_the_gradient_is_the_active_branch() -> None:
    # Y a noisy copy of X1, X2 nearly independent of both: X1 gives the larger specific
    # information at every outcome (checked), so I_max follows I(X1; Y) and I_min I(X2; Y).
    p = np.zeros((2, 2, 2))
    for x1 in range(2):
        for x2 in range(2):
            for y in range(2):
                p[x1, x2, y] = 0.25 * (0.9 if y == x1 else 0.1) * (1.0 + 0.1 * (x2 == y))
    p /= p.sum()
    spec = np.stack([synergy.specific_information(p, a) for a in (0, 1)])
    assert (spec[0] > spec[1] + 0.1).all()
    g_max = _grad(Case("i_max", st.i_max, synergy.pid.i_max), p)
    g_min = _grad(Case("i_min", st.i_min, synergy.pid.i_min), p)
    np.testing.assert_allclose(g_max, _mi_grad(p, 0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g_min, _mi_grad(p, 1), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------- dtype and device


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_and_device_are_kept(dtype: str) -> None:
    torch_dtype = getattr(torch, dtype)
    tables = np.stack([_random_table((2, 3, 2), s, zeros=s) for s in range(3)])
    # float32: rounding of the sums of logs, about 1e-7 relative per term.
    tol = 1e-5 if dtype == "float32" else 1e-12
    for case in _cases_for(3):
        x = _t(tables, dtype=torch_dtype, requires_grad=True)
        out = case.t(x, batch_ndim=1)
        assert out.dtype == torch_dtype
        assert out.device == x.device
        assert out.shape == (3,)
        (g,) = torch.autograd.grad(out.sum(), x)
        assert g.dtype == torch_dtype
        assert torch.isfinite(g).all()
        want = case.n(tables.astype(dtype), batch_ndim=1)
        np.testing.assert_allclose(out.detach().numpy(), want, rtol=0, atol=tol)


def test_the_graph_never_leaves_the_device() -> None:
    # A meta tensor has no data: any .cpu(), .item() or numpy round trip in the computation
    # or its backward would raise. validate=False, since the checks read values by design.
    x = torch.full((4, 2, 2, 2), 0.125, device="meta", requires_grad=True)
    for case in _cases_for(3):
        out = case.t(x, batch_ndim=1, validate=False)
        assert out.device.type == "meta"
        assert out.shape == (4,)
        (g,) = torch.autograd.grad(out.sum(), x)
        assert g.device.type == "meta"


# ------------------------------------------------------------------------- validation

FUNCS = ["entropy", "mutual_information", "wms", "i_max", "s_max", "i_min"]


def _numpy_fn(name: str) -> Callable[..., Any]:
    return getattr(synergy, name, None) or getattr(synergy.pid, name)


@pytest.mark.parametrize("name", FUNCS)
def test_bad_values_raise_the_numpy_sides_errors(name: str) -> None:
    good = _random_table((2, 2, 2), 0)
    negative = good.copy()
    negative[0, 0, 0] = -0.25
    nan = good.copy()
    nan[1, 0, 1] = np.nan
    for bad in (negative, nan):
        with pytest.raises(InvalidDistributionError) as numpy_error:
            _numpy_fn(name)(bad)
        with pytest.raises(InvalidDistributionError) as torch_error:
            getattr(st, name)(_t(bad))
        assert str(torch_error.value) == str(numpy_error.value)
    with pytest.raises(InvalidDistributionError, match=rf"`p` parameter of {name} .*summing to 1"):
        getattr(st, name)(_t(good * 1.1))
    with pytest.raises(InvalidDistributionError, match=r"summing to 1.*per table"):
        getattr(st, name)(_t(np.stack([good, good * 0.5])), batch_ndim=1)
    # validate=False skips the value checks (hot loops): the formula runs on what it gets.
    assert torch.isfinite(getattr(st, name)(_t(good * 1.1), validate=False))


@pytest.mark.parametrize("name", FUNCS)
def test_bad_types_and_parameters_name_the_parameter(name: str) -> None:
    fn = getattr(st, name)
    table = _random_table((2, 2, 2), 0)
    with pytest.raises(InvalidTypeError, match=rf"`p` parameter of {name} .*torch.Tensor"):
        fn(table)  # an ndarray, not a tensor
    with pytest.raises(InvalidTypeError, match=r"`p` parameter.*dtype torch.int64"):
        fn(torch.ones((2, 2, 2), dtype=torch.int64))
    with pytest.raises(InvalidParameterError, match=r"`base` parameter"):
        fn(_t(table), base=1)
    with pytest.raises(InvalidParameterError, match=r"`batch_ndim` parameter"):
        fn(_t(table), batch_ndim=-1)
    with pytest.raises(InvalidDistributionError, match=r"`p` parameter.*table axes"):
        fn(_t(table), batch_ndim=3)


def test_float32_tolerance_is_the_dtypes() -> None:
    # sqrt(eps(float32)) = 3.5e-4: a float32 table off by 1e-5 is rounding, off by 1e-3 is not.
    table = _random_table((2, 2, 2), 1)
    st.entropy(_t(table * (1 + 1e-5), dtype=torch.float32))
    with pytest.raises(InvalidDistributionError, match=r"within 0.00035"):
        st.entropy(_t(table * (1 + 1e-3), dtype=torch.float32))
    with pytest.raises(InvalidDistributionError, match=r"within 1.5e-08"):
        st.entropy(_t(table * (1 + 1e-5)))


def test_argument_errors_match_numpy() -> None:
    table = _random_table((2, 2, 2), 0)
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("entropy", (), {"axes": 3}),
        ("mutual_information", (0, 0), {}),
        ("conditional_mutual_information", (0, 1, 1), {}),
        ("wms", (), {"sources": [0, 2]}),
        ("i_max", (), {"sources": [(0, 1), (1,)]}),
        ("i_min", (), {"sources": "01"}),
    ]
    for name, args, kwargs in calls:
        with pytest.raises((InvalidParameterError, InvalidTypeError)) as numpy_error:
            _numpy_fn(name)(table, *args, **kwargs)
        with pytest.raises(type(numpy_error.value)) as torch_error:
            getattr(st, name)(_t(table), *args, **kwargs)
        assert str(torch_error.value) == str(numpy_error.value), name


# ---------------------------------------------------------------- import and documentation


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_import_synergy_does_not_load_torch_but_synergy_torch_does() -> None:
    out = _run(
        "import sys, synergy; print('torch' in sys.modules);"
        "import synergy.torch; print('torch' in sys.modules, len(synergy.torch.__all__))"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", str(len(st.__all__))]


def test_import_without_torch_names_the_extra() -> None:
    # sys.modules['torch'] = None makes `import torch` fail as if torch were not installed.
    out = _run("import sys; sys.modules['torch'] = None; import synergy.torch")
    assert out.returncode != 0
    assert "ImportError" in out.stderr
    assert 'pip install "synergy[torch]"' in out.stderr


def test_api_page_lists_exactly_the_public_names() -> None:
    from tests.test_docs import _autosummary_entries

    text = (ROOT / "docs" / "api" / "torch.md").read_text(encoding="utf-8")
    assert _autosummary_entries(text) == set(st.__all__)
    index = (ROOT / "docs" / "api" / "index.md").read_text(encoding="utf-8")
    assert re.search(r"^torch$", index, flags=re.MULTILINE)
