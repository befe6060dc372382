"""The documentation: public docstrings pass numpydoc's checks, the API pages list exactly the
public names, and every executable page of docs/ runs (so no shown output can rot).

Doctests are run separately by ``make test`` (``--doctest-modules synergy``).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

NAMESPACES = (
    "synergy",
    "synergy.tables",
    "synergy.testing",
    "synergy.pid",
    "synergy.estimators",
    "synergy.vae",
    "synergy.torch",
)
NEEDS_TORCH = {"synergy.estimators", "synergy.vae", "synergy.torch"}

# numpydoc checks that matter to a reader of the API pages, and why:
CHECKS_EVERY_OBJECT = {
    "GL08": "no docstring: the API page would be empty",
    "SS01": "no summary: the autosummary tables show the summary line",
    "SS06": "summary over several lines: the autosummary tables cut it",
    "PR02": "a documented parameter the signature does not have (stale docs)",
    "PR07": "a parameter without a description",
    "PR10": "'name: type' without the space numpydoc needs to split name and type",
    "RT03": "a Returns entry without a description (the unit goes there)",
}
CHECKS_FUNCTIONS = {
    "PR01": "a parameter of the signature that is not documented",
    "RT01": "no Returns section: return type and unit unknown",
    "EX01": "no Examples section: the library promises a doctested example per function",
}
# Classes that are not dataclasses document their constructor's parameters (PR01). Frozen
# result dataclasses document their fields under Attributes instead, checked by hand below.
CHECKS_CLASSES = {"PR01": CHECKS_FUNCTIONS["PR01"]}


def _public(namespace: str) -> list[str]:
    if namespace in NEEDS_TORCH:
        pytest.importorskip("torch")
    return list(importlib.import_module(namespace).__all__)


def _documentable() -> list[tuple[str, str]]:
    # Modules and data (tables, tuples, the version string) carry no docstring of their own.
    out = []
    for namespace in NAMESPACES:
        try:
            names = importlib.import_module(namespace).__all__
        except ImportError:
            continue
        for name in names:
            out.append((namespace, name))
    return out


def _resolve(namespace: str, name: str) -> tuple[str, object]:
    return f"{namespace}.{name}", getattr(importlib.import_module(namespace), name)


def _is_documentable(obj: object) -> bool:
    return inspect.isroutine(obj) or inspect.isclass(obj) or callable(obj)


def _attribute_names(doc: str) -> set[str]:
    """Names listed in the Attributes section of a numpydoc docstring."""
    from numpydoc.docscrape import NumpyDocString

    names: set[str] = set()
    for param in NumpyDocString(doc)["Attributes"]:
        names.update(part.strip() for part in param.name.split(","))
    return names


def _problems(path: str, obj: object) -> list[str]:
    from numpydoc.validate import validate

    if inspect.isclass(obj):
        selected = {**CHECKS_EVERY_OBJECT}
        if not dataclasses.is_dataclass(obj):
            selected.update(CHECKS_CLASSES)
    else:
        selected = {**CHECKS_EVERY_OBJECT, **CHECKS_FUNCTIONS}
    try:
        report = validate(path)
    except Exception as error:  # numpydoc could not load or parse it: that is the problem
        return [f"numpydoc could not validate it: {type(error).__name__}: {error}"]
    problems = [f"{code} {message}" for code, message in report["errors"] if code in selected]
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        fields = {f.name for f in dataclasses.fields(obj) if not f.name.startswith("_")}
        missing = fields - _attribute_names(inspect.getdoc(obj) or "")
        if missing:
            problems.append(f"DC01 dataclass fields not under Attributes: {sorted(missing)}")
    return problems


def _docstring_cases() -> list[object]:
    cases = []
    for namespace, name in _documentable():
        marks = [pytest.mark.torch] if namespace in NEEDS_TORCH else []
        cases.append(pytest.param(namespace, name, id=f"{namespace}.{name}", marks=marks))
    return cases


@pytest.mark.parametrize(("namespace", "name"), _docstring_cases())
def test_public_docstring(namespace: str, name: str) -> None:
    pytest.importorskip("numpydoc")
    if namespace in NEEDS_TORCH:
        pytest.importorskip("torch")
    path, obj = _resolve(namespace, name)
    if inspect.ismodule(obj) or not _is_documentable(obj):
        pytest.skip("a module or a data constant: documented on its API page")
    problems = _problems(path, obj)
    assert not problems, f"{path}:\n  " + "\n  ".join(problems)


# ------------------------------------------------------------------------- API pages

API_PAGES = {
    "synergy": "synergy.md",
    "synergy.tables": "tables.md",
    "synergy.testing": "testing.md",
    "synergy.pid": "pid.md",
    "synergy.estimators": "estimators.md",
    "synergy.vae": "vae.md",
    "synergy.torch": "torch.md",
}


def _autosummary_entries(text: str) -> set[str]:
    entries: set[str] = set()
    for block in re.findall(r"\.\. autosummary::\n(?:   :[^\n]*\n)*\n((?:   \S[^\n]*\n)+)", text):
        entries.update(line.strip() for line in block.splitlines())
    return entries


@pytest.mark.parametrize("namespace", list(API_PAGES))
def test_api_page_lists_the_public_names(namespace: str) -> None:
    names = set(_public(namespace))
    text = (DOCS / "api" / API_PAGES[namespace]).read_text(encoding="utf-8")
    unmentioned = sorted(n for n in names if not re.search(rf"(?<![\w.]){re.escape(n)}\b", text))
    assert unmentioned == [], f"docs/api/{API_PAGES[namespace]} does not mention {unmentioned}"
    extra = sorted(_autosummary_entries(text) - names)
    assert extra == [], f"docs/api/{API_PAGES[namespace]} documents non-public {extra}"


# --------------------------------------------------------------------- executable pages

# Measured with pytest on the shared 2-core machine under load (load average 5-7): the VAE
# notebook 40-56 s; every other page 4-20 s (most of it importing torch in the kernel).
SLOW_PAGES = {"notebooks/nonsyn_vae_run.md"}


def _executable_pages() -> list[object]:
    pages = []
    for path in sorted(DOCS.rglob("*.md")):
        rel = path.relative_to(DOCS).as_posix()
        if rel.startswith(("_build/", "api/")) or "jupyter_execute" in rel:
            continue
        if "```{code-cell}" not in path.read_text(encoding="utf-8"):
            continue
        marks = [pytest.mark.slow] if rel in SLOW_PAGES else []
        pages.append(pytest.param(rel, id=rel, marks=marks))
    return pages


# Packages that pages import and the `test` extra does not install.
OPTIONAL_IMPORTS = ("torch", "matplotlib")


def _page_needs(text: str) -> set[str]:
    """The optional packages a page needs: skip it where one is missing."""
    needs = {
        name
        for name in OPTIONAL_IMPORTS
        if re.search(rf"^\s*(?:import|from)\s+{name}\b", text, flags=re.MULTILINE)
    }
    # Pages on the torch side need the torch (and, for the trainer, vae) extras.
    if "torch" in text or "synergy.vae" in text:
        needs.add("torch")
    if "synergy.vae" in text:
        needs.add("matplotlib")
    return needs


def _imported_modules(page: str) -> set[str]:
    """Top-level names of the modules a page's code cells import, read by the parser."""
    jupytext = pytest.importorskip("jupytext")
    notebook = jupytext.read(DOCS / page)
    names: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        # IPython magics and shell lines are no Python.
        code = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in cell.source.splitlines()
        )
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("page", _executable_pages())
def test_a_page_is_skipped_where_an_optional_import_is_missing(page: str) -> None:
    imported = _imported_modules(page) & set(OPTIONAL_IMPORTS)
    text = (DOCS / page).read_text(encoding="utf-8")
    assert imported <= _page_needs(text), (
        f"docs/{page} imports {sorted(imported - _page_needs(text))} without a skip"
    )


@pytest.mark.parametrize("page", _executable_pages())
def test_page_executes(page: str) -> None:
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    path = DOCS / page
    text = path.read_text(encoding="utf-8")
    for name in sorted(_page_needs(text)):
        pytest.importorskip(name)
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    os.environ.setdefault("MPLBACKEND", "Agg")
    client.execute()  # raises CellExecutionError naming the cell and its traceback


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-b",
            "html",
            "docs",
            str(tmp_path / "html"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    # A real warning must stand out: no kernel transport notice per notebook, and no dump of
    # MyST's whole configuration.
    log = run.stdout + run.stderr
    assert "Kernel is running over TCP" not in log
    assert "ParserConfig(" not in log
