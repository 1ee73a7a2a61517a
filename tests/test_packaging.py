"""Packaging contracts: environment.yml in step with pyproject.toml, CI calls the README's command."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

#: pyproject (PyPI) name -> conda-forge name, where they differ.
CONDA_NAMES: dict[str, str] = {}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in ("dev", "dask"):
        requirements += project["optional-dependencies"][extra]
    return dict(_split(r) for r in requirements)


def test_every_dependency_has_a_lower_bound():
    for name, spec in _pyproject_requirements().items():
        assert spec.startswith(">="), f"{name} has no lower-bound pin ({spec!r})"


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    pip_section = None
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip_section = entry["pip"]
            continue
        name, spec = _split(entry.replace("=", "==", 1) if re.match(r"^python=", entry) else entry)
        conda[name] = spec
    assert conda.pop("python") == "==3.11"
    conda.pop("pip")
    expected = {CONDA_NAMES.get(n, n): spec for n, spec in _pyproject_requirements().items()}
    assert conda == expected
    assert pip_section == ['-e ".[dev]"']


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make report" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)


def test_library_face_names_resolve_lazily_to_their_one_home():
    """Every name of ``import forecast as fc`` exists where the table says, and importing is cheap."""
    import importlib
    import subprocess
    import sys

    import forecast

    for name, module in forecast._EXPORTS.items():
        assert getattr(forecast, name) is getattr(importlib.import_module(module), name), name
    # A fresh interpreter: the package and the model contracts load without statsmodels, prophet or matplotlib.
    code = (
        "import sys, forecast, forecast.models.base; "
        "print(sorted(m for m in ('statsmodels', 'prophet', 'matplotlib') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_lint_is_clean_notebooks_included():
    """``make lint`` in the suite: style problems fail CI, not a later review."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "scripts", "bench", "docs", "notebooks"],
        cwd=root, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_architecture_map_names_every_module_and_only_real_ones():
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(forecast/[\w/]+\.py)`", text.split("## Old → new")[0]))
    package = root / "src" / "forecast"
    modules = set()
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstring_only = path.name == "__init__.py" and all(isinstance(node, ast.Expr) for node in tree.body)
        if not docstring_only:
            modules.add(path.relative_to(package.parent).as_posix())
    assert named - modules == set(), "docs/architecture.md names modules that do not exist"
    assert modules - named == set(), "modules missing from docs/architecture.md"


def test_input_and_parameter_errors_are_value_errors():
    from forecast.checks import whole_number
    from forecast.errors import ForecastError, InputError, ParameterError

    assert issubclass(InputError, ValueError) and issubclass(ParameterError, ValueError)
    try:
        whole_number(0, "horizon")
    except ValueError as exc:  # the standard way of catching a bad value works
        assert isinstance(exc, ForecastError) and exc.exit_code == 2


def test_no_import_cycle_between_modules():
    """Module-level imports of the package form no cycle (function-local imports are deliberate late binding)."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src"
    graph: dict[str, set[str]] = {}
    for path in (src / "forecast").rglob("*.py"):
        module = ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("forecast"):
                deps |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                deps |= {alias.name for alias in node.names if alias.name.startswith("forecast")}
        graph[module] = deps
    graph = {module: {d for d in deps if d in graph and d != module} for module, deps in graph.items()}
    cycles, state = [], {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        stack.append(module)
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join([*stack[stack.index(dep):], dep]))
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert cycles == []
