"""Sphinx configuration for the synergy documentation.

Sphinx rather than MkDocs: the library's docstrings are numpydoc, which Sphinx renders
natively (autodoc + autosummary + numpydoc), and myst-nb executes the MyST-markdown
notebooks during the build, so every output shown is one the code produced.
Theme: furo (``pip install furo``).

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import synergy

# Matplotlib in the notebooks must not need a display.
os.environ.setdefault("MPLBACKEND", "Agg")

# Notebook kernels start from an IPython profile of the build's own, so that no user's startup
# files change what the pages show. Its kernels log errors only: ipykernel otherwise prints a
# notice per notebook about its local TCP transport, which buries real warnings in the log.
_IPYTHON_DIR = Path(__file__).resolve().parent / "_build" / "ipython"
(_IPYTHON_DIR / "profile_default").mkdir(parents=True, exist_ok=True)
(_IPYTHON_DIR / "profile_default" / "ipython_kernel_config.py").write_text(
    'c.IPKernelApp.log_level = "ERROR"\n', encoding="utf-8"
)
os.environ["IPYTHONDIR"] = str(_IPYTHON_DIR)
sys.path.insert(0, os.path.abspath(os.path.dirname(__file__)))

project = "synergy"
author = "the synergy developers"
copyright = "the synergy developers"
release = synergy.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "jupyter_execute"]
templates_path = ["_templates"]

# API reference: one stub page per public name, generated from the docstrings.
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's Parameters section already says the types
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# MyST: $...$ and $$...$$ maths, ::: fences, colon fences for notes.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# myst-nb runs every notebook on each build (no cache: outputs are never stale) and fails
# the build (a warning, so -W turns it into an error) when a cell raises.
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# Markdown outputs (the benchmark tables of the comparison page) parsed as MyST: GFM tables.
nb_render_markdown_format = "myst"

html_theme = "furo"
html_title = f"synergy {release}"
html_static_path: list[str] = []

# --------------------------------------------------------------------------------------------
# Docstring fix-ups that keep the source docstrings readable as plain text.


def _fix_docstring(app, what, name, obj, options, lines):
    """Escape the plain-text shape convention of the docstrings that RST would misread.

    A shape such as ``(*batch, n_y)`` opens RST emphasis: escape the star after "(".
    """
    for i, line in enumerate(lines):
        lines[i] = re.sub(r"\(\*(?=[A-Za-z_])", r"(\\*", line)


class _DropConfigDump(logging.Filter):
    """Drop the one-line dumps of MyST's and myst-nb's whole configuration (INFO level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and "ParserConfig(" in record.getMessage())


for _name in ("sphinx.myst_parser.sphinx_ext.main", "sphinx.myst_nb.sphinx_ext"):
    logging.getLogger(_name).addFilter(_DropConfigDump())


def setup(app):
    # Before numpydoc (priority 500) parses the sections.
    app.connect("autodoc-process-docstring", _fix_docstring, priority=400)
