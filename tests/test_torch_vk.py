"""synergy.torch.s_vk and union_information: values equal the numpy solver's, and gradients
(the envelope theorem, from multipliers fitted to the optimal Q) equal finite differences of
the numpy functions, gradcheck, the per-table gradients and a hand-made chain rule.

The reference values are those of synergy.pid.union_information, tested on its own against
cvxpy, dit and the papers' tables (tests/test_vk.py, tests/test_pid_gates.py); the finite
differences call it at perturbed tables, independently of the multipliers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import synergy.pid
from synergy._validate import InvalidParameterError, InvalidTypeError
from synergy.testing import GATES

torch = pytest.importorskip("torch")
st = pytest.importorskip("synergy.torch")

pytestmark = pytest.mark.torch

# The solver's duality gap for finite differences (bits): at step H its noise in a
# difference quotient is at most about TIGHT / H = 1e-8, below the tolerance GRAD_ATOL.
TIGHT = 1e-13
# Step of the five-point stencil: its truncation error, O(H^4 f^(5)), measured at 1e-10 or
# less on the tables below (against 3e-8 at H = 1e-4 on tables whose optimum has empty blocks).
H = 1e-5
GRAD_ATOL = 1e-7

FUNCTIONS = {
    "s_vk": (st.s_vk, lambda p, **kw: synergy.pid.union_information(p, **kw).synergy),
    "union_information": (
        st.union_information,
        lambda p, **kw: synergy.pid.union_information(p, **kw).value,
    ),
}

SHAPES = [(2, 2, 2), (3, 3, 3), (2, 3, 4), (2, 2, 2, 2)]


def _random_table(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A seeded interior table (every cell > 0), Dirichlet(1)."""
    return np.random.default_rng(seed).dirichlet(np.ones(math.prod(shape))).reshape(shape)


def _t(p: np.ndarray, *, requires_grad: bool = False) -> Any:
    return torch.tensor(np.array(p), dtype=torch.float64, requires_grad=requires_grad)


def _grad(fn: Callable[..., Any], p: np.ndarray, **kw: Any) -> np.ndarray:
    x = _t(p, requires_grad=True)
    (g,) = torch.autograd.grad(fn(x, **kw), x)
    return g.numpy()


def _five_point(
    f: Callable[[np.ndarray], float], p: np.ndarray, d: np.ndarray, *, step: float = H
) -> float:
    """d/dt f(p + t d) at t = 0 by the five-point stencil."""
    h = step
    return (8 * (f(p + h * d) - f(p - h * d)) - (f(p + 2 * h * d) - f(p - 2 * h * d))) / (12 * h)


# ------------------------------------------------------------------------------- values


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("gate", sorted(GATES))
def test_values_equal_numpy_on_every_gate(name: str, gate: str) -> None:
    torch_fn, numpy_fn = FUNCTIONS[name]
    table = GATES[gate].table
    for base in (2, math.e):
        got = torch_fn(_t(table), base=base)
        assert got.shape == ()
        assert got.dtype == torch.float64
        assert abs(float(got) - numpy_fn(table, base=base)) <= 1e-9, (gate, base)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("shape", SHAPES)
def test_values_equal_numpy_on_random_tables(name: str, shape: tuple[int, ...]) -> None:
    torch_fn, numpy_fn = FUNCTIONS[name]
    for seed in range(3):
        p = _random_table(shape, seed)
        assert abs(float(torch_fn(_t(p))) - numpy_fn(p)) <= 1e-9


def test_source_groups_and_unused_axes_match_numpy() -> None:
    p = _random_table((2, 2, 3, 2, 2), 7)
    for sources in ([(0, 1), (2,)], [(2,), (0, 3)], [(3, 1), (0,), (2,)]):
        for name, (torch_fn, numpy_fn) in FUNCTIONS.items():
            got = float(torch_fn(_t(p), sources))
            assert abs(got - numpy_fn(p, sources=sources)) <= 1e-9, (name, sources)


# ------------------------------------------------------------------------------ gradients


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_along_simplex_directions_equals_finite_differences(
    name: str, shape: tuple[int, ...]
) -> None:
    # Along e_i - e_j the table stays on the simplex, where the multipliers' gauge (a
    # constant added to every cell's gradient) cannot matter.
    torch_fn, numpy_fn = FUNCTIONS[name]
    rng = np.random.default_rng(1)
    for seed in range(2):
        p = _random_table(shape, 10 + seed)
        grad = _grad(torch_fn, p, tol=TIGHT)
        for _ in range(4):
            i, j = rng.choice(p.size, size=2, replace=False)
            d = np.zeros(p.size)
            d[i], d[j] = 1.0, -1.0
            d = d.reshape(shape)
            want = _five_point(lambda x: numpy_fn(x, tol=TIGHT), p, d)
            assert abs(float((grad * d).sum()) - want) <= GRAD_ATOL, (seed, i, j)


def test_gradient_with_source_groups_equals_finite_differences() -> None:
    # Three sources, one of them two axes merged; axis 1 is in no group (summed out).
    p = _random_table((2, 2, 2, 2, 2), 3)
    sources = [(0,), (2, 3)]
    _, numpy_fn = FUNCTIONS["s_vk"]
    grad = _grad(st.s_vk, p, sources=sources, tol=TIGHT)
    rng = np.random.default_rng(2)
    for _ in range(4):
        i, j = rng.choice(p.size, size=2, replace=False)
        d = np.zeros(p.size)
        d[i], d[j] = 1.0, -1.0
        d = d.reshape(p.shape)
        want = _five_point(lambda x: numpy_fn(x, sources=sources, tol=TIGHT), p, d)
        assert abs(float((grad * d).sum()) - want) <= GRAD_ATOL


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("shape", [(2, 2, 2), (2, 3, 2), (2, 2, 2, 2)])
def test_gradcheck_on_interior_tables(name: str, shape: tuple[int, ...]) -> None:
    # gradcheck moves single entries, off the simplex: it checks the gauge too, against the
    # extension that the forward pass computes (the closed forms' H(Y), no normalisation,
    # and the 1-homogeneous minimum). Solver noise in its quotients: TIGHT / eps = 1e-7.
    torch_fn, _ = FUNCTIONS[name]
    x = _t(_random_table(shape, 5), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: torch_fn(t, tol=TIGHT, validate=False), (x,), eps=1e-6, atol=1e-5, rtol=1e-4
    )


def test_gradcheck_on_a_batch_with_groups() -> None:
    x = _t(np.stack([_random_table((2, 2, 3, 2), s) for s in range(3)]), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: st.s_vk(t, [(0, 1), (2,)], tol=TIGHT, batch_ndim=1, validate=False),
        (x,),
        eps=1e-6,
        atol=1e-5,
        rtol=1e-4,
    )


def test_off_simplex_extension_is_the_closed_forms() -> None:
    # S_VK is positively 1-homogeneous in the closed forms' extension (I(X; Y) with no
    # normalisation minus H(Y) + the 1-homogeneous minimum), so by Euler's identity
    # sum_c P_c dS/dP_c = S: a check of the gauge of the multipliers off the simplex.
    p = _random_table((3, 2, 3), 11)
    x = _t(p, requires_grad=True)
    value = st.s_vk(x, base=math.e)
    (grad,) = torch.autograd.grad(value, x)
    torch.testing.assert_close((grad * x).sum(), value, rtol=0, atol=1e-10)
    scaled = st.s_vk(_t(3.0 * p), base=math.e, validate=False)
    torch.testing.assert_close(scaled, 3.0 * value.detach(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_batched_gradients_equal_per_table_gradients(name: str) -> None:
    torch_fn, _ = FUNCTIONS[name]
    tables = np.stack([_random_table((2, 3, 2), s) for s in range(6)]).reshape(3, 2, 2, 3, 2)
    weights = torch.arange(1.0, 7.0, dtype=torch.float64).reshape(3, 2)
    x = _t(tables, requires_grad=True)
    values = torch_fn(x, batch_ndim=2, tol=TIGHT)
    assert values.shape == (3, 2)
    (grad,) = torch.autograd.grad((weights * values).sum(), x)
    for idx in np.ndindex(3, 2):
        one = _grad(torch_fn, tables[idx], tol=TIGHT)
        np.testing.assert_allclose(grad[idx].numpy(), float(weights[idx]) * one, atol=1e-8)
        alone = torch_fn(_t(tables[idx]), tol=TIGHT)
        assert abs(float(values[idx].detach()) - float(alone)) <= 1e-11


def test_softmax_parametrisation_gives_the_chain_rule() -> None:
    # A user's logits: autograd through softmax and S_VK against finite differences of the
    # numpy function in logit space (each coordinate of the logits, five-point stencil).
    shape = (2, 2, 3)
    logits = np.random.default_rng(4).normal(size=math.prod(shape))

    def numpy_s_vk(theta: np.ndarray) -> float:
        e = np.exp(theta - theta.max())
        return synergy.pid.union_information((e / e.sum()).reshape(shape), tol=TIGHT).synergy

    theta = torch.tensor(logits, requires_grad=True)
    value = st.s_vk(torch.softmax(theta, dim=0).reshape(shape), tol=TIGHT)
    (grad,) = torch.autograd.grad(value, theta)
    for k in range(logits.size):
        d = np.zeros(logits.size)
        d[k] = 1.0
        assert abs(float(grad[k]) - _five_point(numpy_s_vk, logits, d)) <= GRAD_ATOL, k


def test_gradient_at_a_boundary_table_is_finite() -> None:
    # AND has P(x1, x2, y) = 0 cells and an optimum on the boundary; COPY a degenerate one
    # (the cells with Q > 0 do not pin the multipliers). The gradient is a finite surrogate.
    for gate in ("AND", "COPY", "XOR", "RDN"):
        table = GATES[gate].table
        grad = _grad(st.s_vk, table)
        assert np.all(np.isfinite(grad)), gate


# ----------------------------------------------------------------- dtype, device, errors


def test_float32_in_float32_out() -> None:
    p = _random_table((2, 2, 2), 0)
    x = torch.tensor(p, dtype=torch.float32, requires_grad=True)
    value = st.s_vk(x)
    assert value.dtype == torch.float32
    assert value.device == x.device
    (grad,) = torch.autograd.grad(value, x)
    assert grad.dtype == torch.float32
    np.testing.assert_allclose(grad.numpy(), _grad(st.s_vk, p), atol=1e-4)


def test_no_gradient_needed_no_fit() -> None:
    with torch.no_grad():
        value = st.union_information(_t(GATES["XOR"].table))
    assert not value.requires_grad
    # XOR: Q = uniform product is feasible with I_Q = 0 (Bertschinger et al. 2014).
    assert abs(float(value)) <= 1e-9


def test_bad_arguments_name_the_parameter() -> None:
    p = _t(GATES["XOR"].table)
    with pytest.raises(InvalidParameterError, match="`sources` parameter of s_vk"):
        st.s_vk(p, [(0, 1)])
    with pytest.raises(InvalidParameterError, match="`tol` parameter of union_information"):
        st.union_information(p, tol=-1.0)
    with pytest.raises(InvalidTypeError, match="`max_iter` parameter of s_vk"):
        st.s_vk(p, max_iter=2.5)
    with pytest.raises(InvalidTypeError, match="`p` parameter of s_vk"):
        st.s_vk(GATES["XOR"].table)


def test_solver_warning_reaches_the_caller() -> None:
    p = _random_table((3, 3, 3), 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        st.s_vk(_t(p), max_iter=1)
    assert any(issubclass(w.category, synergy.SynergyConvergenceWarning) for w in caught)


# ------------------------------------------------------------------------------ decompose

DECOMPOSE_MEASURES = {"imin": 4, "mmi": 4, "imax": 2, "broja": 2, "vk": 2}  # max sources


def _numpy_atoms(p: np.ndarray, measure: str, *, tol: float = TIGHT) -> dict[Any, float]:
    """The numpy atoms; BROJA's from union_information at ``tol`` (decompose takes none)."""
    if measure in ("broja", "vk"):
        one = synergy.pid.union_information(p, tol=tol)
        return {
            ((0,), (1,)): one.shared,
            ((0,),): one.unique[0],
            ((1,),): one.unique[1],
            ((0, 1),): one.synergy,
        }
    return dict(synergy.pid.decompose(p, measure).atoms)


@pytest.mark.parametrize("gate", sorted(GATES))
def test_decompose_values_equal_numpy_on_every_gate(gate: str) -> None:
    table = GATES[gate].table
    for measure, most in DECOMPOSE_MEASURES.items():
        if table.ndim - 1 > most:
            continue
        got = st.decompose(_t(table), measure)
        want = synergy.pid.decompose(table, measure)
        assert got.measure == want.measure
        assert set(got.atoms) == set(want.atoms)
        for node, value in want.atoms.items():
            assert abs(float(got.atoms[node]) - value) <= 1e-9, (measure, node)
            assert abs(float(got.redundancies[node]) - want.redundancies[node]) <= 1e-9
        assert abs(float(got.mutual_information) - want.mutual_information) <= 1e-9


def test_decompose_batch_and_groups_equal_numpy() -> None:
    tables = np.stack([_random_table((2, 3, 2, 2), s) for s in range(4)]).reshape(2, 2, 2, 3, 2, 2)
    for measure, sources in (("imin", None), ("mmi", None), ("imin", [(0, 1), (2,)])):
        got = st.decompose(_t(tables), measure, sources, batch_ndim=2, base=math.e)
        want = synergy.pid.decompose(tables, measure, sources, batch_ndim=2, base=math.e)
        for node, value in want.atoms.items():
            assert got.atoms[node].shape == (2, 2)
            np.testing.assert_allclose(got.atoms[node].numpy(), value, rtol=0, atol=1e-9)
    for measure in ("imax", "broja"):
        got = st.decompose(_t(tables), measure, [(0, 1), (2,)], batch_ndim=2)
        want = synergy.pid.decompose(tables, measure, [(0, 1), (2,)], batch_ndim=2)
        for node, value in want.atoms.items():
            np.testing.assert_allclose(got.atoms[node].numpy(), value, rtol=0, atol=1e-9)
    assert got.status.shape == (2, 2)
    assert bool((got.gap >= 0).all())


@pytest.mark.parametrize(
    ("measure", "shape"),
    [
        ("imin", (2, 2, 2)),
        ("imin", (2, 2, 2, 2)),
        ("mmi", (2, 3, 2)),
        ("mmi", (2, 2, 2, 2)),
        ("imax", (2, 3, 2)),
        ("broja", (2, 2, 2)),
        ("broja", (2, 3, 4)),
    ],
)
def test_decompose_gradients_equal_finite_differences(
    measure: str, shape: tuple[int, ...]
) -> None:
    # Every atom, along e_i - e_j, against the numpy atoms at perturbed tables. Random
    # interior tables: no ties between the sources' specific or mutual informations.
    p = _random_table(shape, 21)
    x = _t(p, requires_grad=True)
    result = (
        st.decompose(x, measure, tol=TIGHT) if measure == "broja" else st.decompose(x, measure)
    )
    rng = np.random.default_rng(3)
    directions = []
    for _ in range(3):
        i, j = rng.choice(p.size, size=2, replace=False)
        d = np.zeros(p.size)
        d[i], d[j] = 1.0, -1.0
        directions.append(d.reshape(shape))
    for node, atom in result.atoms.items():
        (grad,) = torch.autograd.grad(atom, x, retain_graph=True)
        for d in directions:
            want = _five_point(lambda t, n=node: _numpy_atoms(t, measure)[n], p, d)
            assert abs(float((grad.numpy() * d).sum()) - want) <= GRAD_ATOL, node


def test_decompose_gradcheck_of_the_atoms() -> None:
    x = _t(_random_table((2, 2, 3), 8), requires_grad=True)

    def atoms(t: Any) -> Any:
        result = st.decompose(t, "broja", tol=TIGHT, validate=False)
        return torch.stack([result.redundancy, *result.unique, result.synergy])

    assert torch.autograd.gradcheck(atoms, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)
    y = _t(_random_table((2, 2, 2, 2), 8), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: st.decompose(t, "imin", validate=False).synergy, (y,), eps=1e-6, atol=1e-6
    )


def test_decompose_refuses_measures_without_a_gradient() -> None:
    p = _t(GATES["AND"].table)
    with pytest.raises(InvalidParameterError, match=r"`measure` parameter of decompose.*'ccs'"):
        st.decompose(p, "ccs")
    with pytest.raises(InvalidParameterError, match=r"\['broja', 'imax', 'imin', 'mmi', 'vk'\]"):
        st.decompose(p, "dep")
    # A measure of the user's: its redundancy is numpy, so there is no torch form of it.
    synergy.pid.register_measure("torchless", lambda q, alpha: 0.0, replace=True)
    try:
        with pytest.raises(InvalidParameterError, match="'torchless'"):
            st.decompose(p, "torchless")
    finally:
        synergy.pid.unregister_measure("torchless")
    with pytest.raises(InvalidParameterError, match="`measure` parameter of decompose"):
        st.decompose(p, "no-such-measure")
    with pytest.raises(InvalidParameterError, match="`tol` parameter of decompose"):
        st.decompose(p, "imin", tol=1e-12)
    with pytest.raises(InvalidParameterError, match="`sources` parameter of decompose"):
        st.decompose(_t(GATES["XOR3"].table), "broja")


# ------------------------------------------------------------------- the multipliers


def _dual_check(p: np.ndarray) -> tuple[float, float, float]:
    """For the fitted multipliers at the optimum of ``p``: (b.lam - f(Q*), the largest
    logsumexp_y over the cells P allows of an emptied block, the largest |logsumexp| of a
    block with mass), in nats."""
    from synergy.torch._vk import envelope_gradient

    answer = synergy.pid.union_information(p, base=math.e, tol=1e-12)
    q = answer.q
    lam_sum = envelope_gradient(q[np.newaxis])[0]
    k = p.ndim - 1
    allowed = np.ones(p.shape, dtype=bool)
    for i in range(k):
        allowed &= p.sum(axis=tuple(a for a in range(k) if a != i), keepdims=True) > 0
    mass = np.where(allowed, np.exp(np.where(allowed, lam_sum, 0.0)), 0.0).sum(axis=-1)
    q_x = q.sum(axis=-1)
    in_use = allowed.any(axis=-1)
    empty = (q_x < 1e-10) & in_use
    with np.errstate(divide="ignore"):
        lse = np.log(mass)
    # f(Q) = I_VK - H(Y): the solver's objective at its Q.
    p_y = p.sum(axis=tuple(range(k)))
    h_y = -float(np.sum(p_y[p_y > 0] * np.log(p_y[p_y > 0])))
    b_dot_lam = float(np.sum(p * np.where(allowed, lam_sum, 0.0)))
    worst_empty = float(lse[empty].max()) if empty.any() else -math.inf
    return b_dot_lam - (answer.value - h_y), worst_empty, float(np.abs(lse[~empty & in_use]).max())


@pytest.mark.parametrize("case", [*sorted(g for g in GATES if GATES[g].table.ndim == 3), "random"])
def test_fitted_multipliers_are_dual_optimal(case: str) -> None:
    # An optimal dual point is what makes sum_i lam_i(x_i, y) a (sub)gradient of min f:
    # dual feasible (logsumexp_y <= 0 on every block, = 0 where Q(x) > 0) and b.lam = f(Q*)
    # (zero duality gap against the solver's primal value). Checked on the gates (optima
    # on the boundary, degenerate ones such as COPY) and on Dirichlet(0.5) tables, a third
    # of which have emptied blocks.
    if case == "random":
        rng = np.random.default_rng(5)
        tables = [
            rng.dirichlet(np.full(math.prod(s), 0.5)).reshape(s)
            for s in [(2, 2, 2), (3, 3, 3), (2, 3, 4)] * 10
        ]
    else:
        tables = [GATES[case].table]
    for p in tables:
        gap, worst_empty, worst_active = _dual_check(p)
        assert abs(gap) <= 1e-9
        assert worst_empty <= 1e-9
        assert worst_active <= 1e-9


def test_backward_uses_the_forward_multipliers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The multipliers are kept from the forward pass: backward must not solve again.
    import synergy.torch._vk as vk_module

    p = _random_table((2, 3, 2), 9)
    x = _t(p, requires_grad=True)
    value = st.s_vk(x, tol=TIGHT)

    def no_solver(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the solver ran in the backward pass")

    monkeypatch.setattr(vk_module, "solve_union_information", no_solver)
    (grad,) = torch.autograd.grad(value, x)
    monkeypatch.undo()
    np.testing.assert_allclose(grad.numpy(), _grad(st.s_vk, p, tol=TIGHT), atol=1e-12)


@pytest.mark.parametrize(("shape", "seed"), [((2, 2, 2), 26), ((3, 3, 3), 4), ((2, 3, 4), 19)])
def test_gradient_with_emptied_blocks_equals_finite_differences(
    shape: tuple[int, ...], seed: int
) -> None:
    # Interior tables whose optimum empties blocks (Q*(x) = 0; seeds found by search): the
    # multipliers are still pinned down, so the gradient is exact there, emptied cells too.
    # Dirichlet(0.5) has cells near 1e-4, where the stencil's truncation error grows like
    # (H / p)^4: the step is at most 1% of the moved cells (then measured <= 1e-8).
    p = np.random.default_rng(seed).dirichlet(np.full(math.prod(shape), 0.5)).reshape(shape)
    q = synergy.pid.union_information(p, tol=TIGHT).q
    assert (q.sum(axis=-1) < 1e-10).any()  # the case this test is about
    grad = _grad(st.s_vk, p, tol=TIGHT)
    rng = np.random.default_rng(seed)
    for _ in range(4):
        i, j = rng.choice(p.size, size=2, replace=False)
        d = np.zeros(p.size)
        d[i], d[j] = 1.0, -1.0
        d = d.reshape(shape)
        step = min(H, 0.01 * min(p.flat[i], p.flat[j]))
        want = _five_point(
            lambda x: synergy.pid.union_information(x, tol=TIGHT).synergy, p, d, step=step
        )
        assert abs(float((grad * d).sum()) - want) <= GRAD_ATOL, (i, j)


def test_decompose_keeps_dtype_and_reports_the_solver() -> None:
    x = torch.tensor(GATES["AND"].table, dtype=torch.float32, requires_grad=True)
    result = st.decompose(x, "vk")
    assert result.measure == "broja"
    for atom in result.atoms.values():
        assert atom.dtype == torch.float32
        assert atom.shape == ()
    assert result.status == "optimal"
    assert isinstance(result.iterations, int)
    assert float(result.gap) >= 0.0
    # BROJA on AND: 0.5 bit of synergy, 0.311278 bit shared (Bertschinger et al. 2014).
    assert abs(float(result.synergy.detach()) - 0.5) <= 1e-6
    assert abs(float(result.redundancy.detach()) - 0.311278) <= 1e-6
    (grad,) = torch.autograd.grad(result.synergy, x)
    assert grad.dtype == torch.float32
    closed = st.decompose(x, "imin")
    assert closed.status == "exact"
    assert closed.gap is None
