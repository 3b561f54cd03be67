"""The tutorial notebook: committed without outputs, and it runs from top to bottom (``make test`` executes it)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "tutorial.ipynb"


def test_the_committed_notebook_has_no_outputs():
    nbformat = pytest.importorskip("nbformat", reason="the explore extra: pip install -e '.[explore]'")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "the tutorial has code"
    assert [index for index, cell in enumerate(code) if cell.outputs or cell.execution_count is not None] == []


def test_the_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the explore extra: pip install -e '.[explore]'")
    nbclient = pytest.importorskip("nbclient", reason="the explore extra: pip install -e '.[explore]'")
    pytest.importorskip("ipykernel", reason="the explore extra: pip install -e '.[explore]'")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Run where a reader runs it (examples/), so the paths it looks for resolve as they would there.
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError naming the cell that failed
    images = sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
                 for output in cell.outputs)
    assert images >= 8, "every section draws its figures"
