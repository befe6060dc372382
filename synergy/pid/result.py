"""PIDResult: the frozen answer of a partial information decomposition.

Holds the atoms keyed by antichain, the headline values and the solver diagnostics.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from synergy.pid.lattice import Antichain

#: The type of every value: float for one table, ndarray of the batch shape for a batch.
V = TypeVar("V")

__all__ = ["PIDResult", "format_antichain"]


def format_antichain(node: Antichain) -> str:
    """Williams-Beer notation: ((0,), (1,)) -> "{0}{1}", ((0, 1),) -> "{0,1}"."""
    return "".join("{" + ",".join(str(i) for i in element) + "}" for element in node)


@dataclass(frozen=True)
class PIDResult(Generic[V]):
    """A partial information decomposition of I(X; Y) over sources X_1, ..., X_n.

    For a batch (``decompose(..., batch_ndim > 0)``) every value below is an ndarray of the
    batch shape instead of a float, and so are a solver's ``status``, ``gap`` and
    ``iterations``.

    Attributes
    ----------
    synergy : float
        The top atom {0,1,...,n-1}: information only all sources together carry.
    redundancy : float
        The bottom atom {0}{1}...{n-1}: information every source carries.
    unique : tuple of float
        One per source: the atom {i}, information only source i carries.
    atoms : Mapping[Antichain, float]
        Every partial information atom, keyed by antichain (tuple of tuples of source
        indices, e.g. ``((0,), (1,))``), in a bottom-up order of the lattice. Read-only.
    redundancies : Mapping[Antichain, float]
        I_cap(alpha): the sum of the atoms at or below each node. Read-only.
    mutual_information : float
        I(X; Y) with X the union of the sources; the atoms sum to it.
    measure : str
        The registered name of the measure ("imin", "imax", "broja", ...); an alias gives
        its measure's name, so "vk" reads "broja".
    base : float
        Logarithm base of every value (2: bits).
    status : str
        "exact" for closed forms, else the solver's status.
    gap : float or None
        Duality gap (bits) reported by the solver; None for closed forms.
    iterations : int or None
        Solver iterations; None for closed forms.
    sources : tuple of tuple of int
        The table axes of each source, as resolved.
    batch_shape : tuple of int
        The shape of the batch; () for one table.
    """

    synergy: V
    redundancy: V
    unique: tuple[V, ...]
    atoms: Mapping[Antichain, V]
    redundancies: Mapping[Antichain, V]
    mutual_information: V
    measure: str
    base: float
    status: str | np.ndarray = "exact"
    gap: V | None = None
    iterations: int | np.ndarray | None = None
    sources: tuple[tuple[int, ...], ...] = ()
    batch_shape: tuple[int, ...] = ()

    def _unit(self) -> str:
        return {2.0: "bits", 2.718281828459045: "nats", 10.0: "dits"}.get(
            float(self.base), f"log base {self.base:g}"
        )

    def _rows(self) -> list[tuple[str, str, str]]:
        return [
            (format_antichain(node), f"{self.redundancies[node]:.6f}", f"{value:.6f}")
            for node, value in self.atoms.items()
        ]

    def _footer(self) -> str:
        parts = [f"I(X;Y) = {self.mutual_information:.6f} {self._unit()}", f"status {self.status}"]
        if self.gap is not None:
            parts.append(f"gap {self.gap:.2e}")
        if self.iterations is not None:
            parts.append(f"{self.iterations} iterations")
        return ", ".join(parts)

    def __str__(self) -> str:
        if self.batch_shape:
            return (
                f"PID ({self.measure}, {len(self.unique)} sources, {self._unit()}) of a batch "
                f"of shape {self.batch_shape}: index a field (e.g. `synergy[i]`) for one table"
            )
        header = ("node", "I_cap", "atom")
        rows = self._rows()
        widths = [max(len(r[c]) for r in [header, *rows]) for c in range(3)]
        title = f"PID ({self.measure}, {len(self.unique)} sources, {self._unit()})"
        rule = "  ".join("-" * w for w in widths)
        head = [header[0].ljust(widths[0]), header[1].rjust(widths[1]), header[2].rjust(widths[2])]
        lines = [title, "  ".join(head), rule]
        lines += [
            "  ".join([r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].rjust(widths[2])])
            for r in rows
        ]
        lines += [rule, self._footer()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if self.batch_shape:
            return f"<p>{html.escape(str(self))}</p>"
        body = "".join(
            f"<tr><td>{html.escape(a)}</td><td style='text-align:right'>{b}</td>"
            f"<td style='text-align:right'>{c}</td></tr>"
            for a, b, c in self._rows()
        )
        caption = html.escape(f"PID ({self.measure}, {len(self.unique)} sources, {self._unit()})")
        return (
            f"<table><caption>{caption}</caption>"
            "<thead><tr><th>node</th><th>I_cap</th><th>atom</th></tr></thead>"
            f"<tbody>{body}</tbody>"
            f"<tfoot><tr><td colspan='3'>{html.escape(self._footer())}</td></tr></tfoot>"
            "</table>"
        )
