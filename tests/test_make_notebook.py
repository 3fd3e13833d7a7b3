"""createModel.ipynb has one source, tools/make_notebook.py: the committed file is what it writes.

.venv/bin/python -m pytest tests/test_make_notebook.py -q
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def generator():
    spec = importlib.util.spec_from_file_location("make_notebook", ROOT / "tools" / "make_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_notebook_is_what_the_generator_writes():
    committed = nbformat.read(ROOT / "createModel.ipynb", as_version=4)
    built = generator().build_notebook()
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in built.cells
    ], (
        "createModel.ipynb differs from tools/make_notebook.py: edit the cells there and run "
        "`python tools/make_notebook.py`"
    )
    assert (ROOT / "createModel.ipynb").read_text(encoding="utf-8") == nbformat.writes(built) + "\n"


def test_every_code_cell_is_valid_python():
    """Cells the notebook test does not run (the optional Share section) must still parse: an escape
    written into the generator's strings once became a broken string literal in the notebook."""
    for index, cell in enumerate(generator().build_notebook().cells):
        if cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
            compile("\n".join(lines), f"cell {index}", "exec")
