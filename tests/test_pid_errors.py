"""Bad input to the synergy measures and decompose raises the library's clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from synergy import InvalidDistributionError, InvalidParameterError, InvalidTypeError
from synergy.pid import decompose, i_max, i_min, s_max, wms

MEASURES = [wms, s_max, i_max, i_min]
AND = np.zeros((2, 2, 2))
AND[0, 0, 0] = AND[0, 1, 0] = AND[1, 0, 0] = AND[1, 1, 1] = 0.25


@pytest.mark.parametrize("measure", MEASURES, ids=lambda f: f.__name__)
def test_bad_sources(measure) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameterError, match="`sources` parameter of"):
        measure(AND, [0, 2])  # the target
    with pytest.raises(InvalidParameterError, match="`sources` parameter of"):
        measure(AND, [0, 5])
    with pytest.raises(InvalidParameterError, match="disjoint"):
        measure(AND, [(0, 1), (1,)])
    with pytest.raises(InvalidTypeError, match="`sources` parameter of"):
        measure(AND, "01")


@pytest.mark.parametrize("measure", MEASURES, ids=lambda f: f.__name__)
def test_bad_tables(measure) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidDistributionError, match="summing to 1"):
        measure(AND * 2)
    with pytest.raises(InvalidDistributionError, match="non-negative"):
        measure(np.array([[0.5, -0.5], [0.5, 0.5]]))
    with pytest.raises(InvalidDistributionError):
        measure(np.array([0.5, 0.5]))  # no source axis
    with pytest.raises(InvalidTypeError, match="`base` parameter"):
        measure(AND, base="2")
    with pytest.raises(InvalidParameterError, match="`base` parameter"):
        measure(AND, base=1)
    with pytest.raises(InvalidParameterError, match="`batch_ndim` parameter"):
        measure(AND, batch_ndim=-1)


def test_decompose_bad_measure() -> None:
    # "ccs" is a registered measure now; a name nobody registered is still refused.
    with pytest.raises(InvalidParameterError, match=r"`measure` parameter of decompose.*'imin'"):
        decompose(AND, "no_such_measure")
    with pytest.raises(InvalidTypeError, match="`measure` parameter of decompose"):
        decompose(AND, None)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="`solver` parameter of decompose"):
        decompose(AND, "imin", solver="cvxpy")


@pytest.mark.parametrize("measure", ["imin", "imax", "mmi", "ccs"])
@pytest.mark.parametrize(("name", "value"), [("tol", 1e-6), ("max_iter", 50)])
def test_decompose_refuses_solver_options_for_closed_forms(
    measure: str, name: str, value: float
) -> None:
    # A closed form has no gap to bound: the option would be silently ignored.
    with pytest.raises(
        InvalidParameterError,
        match=rf"`{name}` parameter of decompose must be None for the measure '{measure}'",
    ):
        decompose(AND, measure, **{name: value})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tol": -1.0}, InvalidParameterError, "`tol` parameter of decompose"),
        ({"tol": float("inf")}, InvalidParameterError, "`tol` parameter of decompose"),
        ({"tol": "small"}, InvalidTypeError, "`tol` parameter of decompose"),
        ({"max_iter": 0}, InvalidParameterError, "`max_iter` parameter of decompose"),
        ({"max_iter": 2.5}, InvalidTypeError, "`max_iter` parameter of decompose"),
    ],
)
def test_decompose_bad_solver_options(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        decompose(AND, "broja", **kwargs)  # type: ignore[arg-type]


def test_decompose_source_counts() -> None:
    three = np.full((2, 2, 2, 2), 1 / 16)
    for measure in ("imax", "broja", "vk"):
        with pytest.raises(InvalidParameterError, match="exactly 2 source groups"):
            decompose(three, measure)
    five = np.full((2,) * 6, 1 / 64)
    with pytest.raises(InvalidParameterError, match="2 to 4 source groups"):
        decompose(five, "imin")
    with pytest.raises(InvalidParameterError, match="at least 2 source groups"):
        decompose(AND, "imin", sources=[0])
    # Five axes grouped into two sources is fine.
    result = decompose(five, "imin", sources=[(0, 1), (2, 3, 4)])
    np.testing.assert_allclose(result.mutual_information, 0.0, atol=1e-12)


def test_public_names() -> None:
    import synergy.pid

    assert set(synergy.pid.__all__) == {
        "MEASURES",
        "DecompositionAtoms",
        "LatticeDecomposition",
        "Measure",
        "PIDResult",
        "RedundancyLattice",
        "UnionInformation",
        "UnionInformationBatch",
        "decompose",
        "get_measure",
        "i_max",
        "i_min",
        "lattice_decomposition",
        "measure_names",
        "merge_sources",
        "redundancy_lattice",
        "register_alias",
        "register_decomposition",
        "register_measure",
        "s_max",
        "s_vk",
        "union_information",
        "unregister_measure",
        "wms",
    }
    for name in synergy.pid.__all__:
        assert getattr(synergy.pid, name) is not None


def test_redundancy_lattice_refuses_bad_sizes_with_the_library_error():
    from synergy.pid import redundancy_lattice

    with pytest.raises(InvalidParameterError, match=r"`n_sources` parameter of redundancy_latt"):
        redundancy_lattice(5)
    with pytest.raises(InvalidParameterError, match="from 1 to 4"):
        redundancy_lattice(0)
    for bad in (2.0, "2", True, [2]):
        with pytest.raises(InvalidTypeError, match="n_sources"):
            redundancy_lattice(bad)
    # Cached: the same lattice object for the same size, numpy integers included.
    assert redundancy_lattice(np.int64(3)) is redundancy_lattice(3)
