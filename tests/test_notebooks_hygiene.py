"""Committed notebooks are clean: no outputs, one parameters cell, kernel python3.

Checked for every ``notebooks/*.ipynb`` (the report suite) and for the runner's
test notebooks in ``tests/data/notebooks``:

- no outputs and no execution counts (outputs belong to runs, not to git);
- report notebooks (``NN_name.ipynb``) have exactly one cell tagged
  ``parameters``; other notebooks (``exploration_template``) at most one;
- that cell holds only ``name = value`` assignments with JSON-simple literal
  values (dates as ISO strings) and a comment for each;
- kernelspec name ``forecast`` (the kernel `make` installs; the runner executes with that name);
- no function or class definitions: model code lives in the package.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import nbformat
import pytest

from forecast.runner.params import is_json_simple, parameters_cells, parse_parameters_source
from forecast.runner.run import NOTEBOOK_PATTERN

ROOT = Path(__file__).resolve().parents[1]
REPO_NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TEST_NOTEBOOKS = sorted((ROOT / "tests" / "data" / "notebooks").glob("*.ipynb"))
NOTEBOOKS = [
    pytest.param(path, id=str(path.relative_to(ROOT))) for path in REPO_NOTEBOOKS + TEST_NOTEBOOKS
]
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")


def _read(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


def _code(source: str) -> str:
    # IPython magics and shell escapes are not Python; blank them before parsing.
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def test_the_report_notebooks_folder_is_checked():
    if not REPO_NOTEBOOKS:
        pytest.skip("notebooks/ has no notebooks yet")
    report = [path for path in REPO_NOTEBOOKS if NOTEBOOK_PATTERN.match(path.name)]
    assert report, "notebooks/ holds no NN_name.ipynb report notebook"
    numbers = [path.name[:2] for path in report]
    assert len(numbers) == len(set(numbers)), f"two report notebooks share a number: {numbers}"
    others = {path.name for path in REPO_NOTEBOOKS} - {path.name for path in report}
    assert others <= {"exploration_template.ipynb"}, f"not named NN_name.ipynb: {sorted(others)}"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_committed_without_outputs(path):
    notebook = _read(path)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name} cell {index} has outputs; clear them before committing"
        assert cell.execution_count is None, f"{path.name} cell {index} has an execution count"
        assert "injected-parameters" not in cell.metadata.get("tags", []), f"{path.name}: papermill output committed"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_kernelspec_is_the_forecast_kernel(path):
    kernelspec = _read(path).metadata.get("kernelspec", {})
    assert kernelspec.get("name") == "forecast", f"{path.name}: kernelspec {kernelspec.get('name')!r}"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_one_parameters_cell_with_json_simple_commented_values(path):
    notebook = _read(path)
    cells = parameters_cells(notebook)
    if NOTEBOOK_PATTERN.match(path.name):
        assert len(cells) == 1, f"{path.name}: {len(cells)} cells tagged 'parameters'; a report notebook needs exactly one"
    else:
        assert len(cells) <= 1, f"{path.name}: {len(cells)} cells tagged 'parameters'"
    if not cells:
        return
    source = notebook.cells[cells[0]].source
    assert notebook.cells[cells[0]].cell_type == "code"
    for statement in ast.parse(source).body:
        assert isinstance(statement, ast.Assign | ast.AnnAssign), (
            f"{path.name} parameters cell line {statement.lineno}: only `name = value` assignments belong here"
        )
    declared = parse_parameters_source(source, where=path.name)
    assert declared, f"{path.name}: the parameters cell declares nothing"
    for parameter in declared.values():
        assert is_json_simple(parameter.default), (
            f"{path.name}: parameter '{parameter.name}' = {parameter.default!r} is not JSON-simple "
            "(None, bool, int, float, str, list, dict)"
        )
        assert parameter.help, f"{path.name}: parameter '{parameter.name}' has no comment saying what it is"
        if isinstance(parameter.default, str) and _DATE_LIKE.match(parameter.default):
            dt.date.fromisoformat(parameter.default)  # dates are ISO strings: YYYY-MM-DD


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_no_model_code_in_notebooks(path):
    for index, cell in enumerate(_read(path).cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(_code(cell.source))):
            assert not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef), (
                f"{path.name} cell {index} defines {node.name}(); move it into the forecast package"
            )


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p in REPO_NOTEBOOKS])
def test_notebook_defaults_are_the_shared_defaults_and_the_configs(path):
    """A notebook opened by hand in JupyterLab computes what `make report` does."""
    from forecast.defaults import DEFAULTS
    from forecast.runner.params import declared_parameters, load_config

    config = load_config(ROOT / "config" / "default.yaml").values
    declared = declared_parameters(path)
    for name, parameter in declared.items():
        if name in DEFAULTS:
            assert parameter.default == DEFAULTS[name], f"{path.name}: {name}"
        if name in config:
            assert parameter.default == config[name], f"{path.name}: {name} differs from config/default.yaml"


def test_default_config_holds_the_shared_defaults():
    from forecast.defaults import DEFAULTS
    from forecast.runner.params import load_config

    config = load_config(ROOT / "config" / "default.yaml").values
    for name, value in DEFAULTS.items():
        if name in config:
            assert config[name] == value, name
    assert config["synthetic"]["seed"] == DEFAULTS["seed"]
