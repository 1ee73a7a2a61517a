"""Run parameters: one YAML file, ``-p`` overrides, and what each notebook declares.

A report run is driven by one parameter file (``config/default.yaml``). Each
notebook declares the parameters it takes in its single cell tagged
``parameters``; it receives exactly that subset. Everything is checked before
anything runs, so a typo or a wrong type costs seconds, not a half-built run:

- every key given (in the file or with ``-p``) must be a known global key
  (:data:`GLOBAL_PARAMETERS`) or be declared by at least one selected notebook;
- its value must have the type the notebook declares (from an annotation such
  as ``stronghold: str | list = "auto"`` or else from the default's type) and,
  for global keys, pass the global check (``horizon`` is a positive int, ...).

Values are JSON-simple (``None``, bool, int, float, str, list, dict); dates are
ISO strings. YAML turns ``2021-12-27`` into a date object, so dates are turned
back into ISO strings wherever they appear.

Examples
--------
>>> source = '''
... horizon = 8  # periods ahead
... as_of: str | None = None  # last observed period; null = last full one
... '''
>>> declared = parse_parameters_source(source, where="nb.ipynb")
>>> declared["horizon"].type_label, declared["as_of"].type_label
('int', 'str | None')
>>> parse_override("as_of=2021-12-27")
('as_of', '2021-12-27')
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import io
import json
import re
import tokenize
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from forecast import checks
from forecast.defaults import FREQ, default_models
from forecast.errors import ForecastError, ParameterError
from forecast.sources import DISTRICT_SOURCES, SOURCE_NAMES

NoneType = type(None)

#: Where the default parameter file lives, relative to the project folder.
DEFAULT_CONFIG = Path("config") / "default.yaml"

#: Data sources the suite can read (see ``forecast.data``).
SOURCES = SOURCE_NAMES  # forecast.sources: the one table of data sources

#: Parameters the runner sets itself; a user cannot pass them.
RUNNER_PARAMETERS = {
    "output_dir": "the run folder, where a notebook writes alerts.json (set by the runner)",
    "ledger_dir": "the forecast ledger under the reports dir, read by the forecasts notebook (set by the runner)",
}

_TYPE_NAMES: dict[type, str] = {
    NoneType: "None",
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    list: "list",
    dict: "dict",
}
_NAME_TYPES: dict[str, type] = {name: kind for kind, name in _TYPE_NAMES.items()}
_NAME_TYPES.update({"NoneType": NoneType, "List": list, "Dict": dict})


def type_name(value: Any) -> str:
    """The JSON-simple type name of ``value`` (``'int'``, ``'str'``, ``'None'``...)."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _label(types: tuple[type, ...] | None) -> str:
    if types is None:
        return "any"
    return " | ".join(_TYPE_NAMES.get(kind, kind.__name__) for kind in types)


def accepts(types: tuple[type, ...] | None, value: Any) -> bool:
    """Whether ``value`` fits ``types``; ``None`` means any type.

    ``bool`` is not an ``int`` here (``True`` for a horizon is a mistake), but an
    ``int`` is accepted where a ``float`` is declared.
    """
    if types is None:
        return True
    kind = type(value)
    if kind in types:
        return True
    return kind is int and float in types


def to_json_simple(value: Any) -> Any:
    """Return ``value`` with dates as ISO strings and tuples as lists (recursively)."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): to_json_simple(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_simple(item) for item in value]
    return value


def is_json_simple(value: Any) -> bool:
    """Whether ``value`` is built from None, bool, int, float, str, list and str-keyed dict."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(is_json_simple(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and is_json_simple(item) for key, item in value.items())
    return False


# ---------------------------------------------------------------------------
# Global parameters (config/default.yaml)
# ---------------------------------------------------------------------------


def _is_iso_date(value: Any) -> bool:
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def _problem(check: Callable[..., Any], value: Any, name: str, *args: Any, **kwargs: Any) -> str | None:
    """What :mod:`forecast.checks` says is wrong with ``value`` (its message after the name), or None."""
    try:
        check(value, name, *args, **kwargs)
    except ParameterError as exc:
        return exc.detail.removeprefix(name).strip()
    return None


def _check_source(value: Any) -> str | None:
    return _problem(checks.choice, value, "source", SOURCES)


def _check_freq(value: Any) -> str | None:
    # The panel's own check, so a frequency the notebooks cannot build (e.g. 'D')
    # is refused here, before any notebook runs.
    return _problem(checks.frequency, value, "freq")


def _check_level(value: Any) -> str | None:
    if isinstance(value, bool) or value not in (1, 2):
        return f"is {value!r}; use 1 (provinces) or 2 (districts)"
    return None


def _check_horizon(value: Any) -> str | None:
    return _problem(checks.steps_ahead, value, "horizon")


def _check_models(value: Any) -> str | None:
    if value is None:  # the candidates of the panel's frequency (forecast.defaults.default_models)
        return None
    if not value or not all(isinstance(item, str) and item for item in value):
        return 'must be a non-empty list of model names, e.g. ["hist_mean", "glm_negbin"]'
    from forecast.models.registry import expand_ensembles, make_model

    try:  # builds the models (cheap, nothing is fitted) so a typo fails before any notebook runs
        for spec in expand_ensembles(list(value)):
            make_model(spec)
    except ForecastError as exc:
        return f"is not valid: {exc.detail}"
    return None


def _check_selection(value: Any) -> str | None:
    from forecast.evaluation.selection import SELECTIONS

    return None if value in SELECTIONS else f"'{value}' is not one of {', '.join(SELECTIONS)}"


def _csv_fields() -> list[str]:
    from forecast.data.csv import FIELDS

    return list(FIELDS)


def _check_columns(value: Any) -> str | None:
    unknown = sorted(set(value) - set(_csv_fields()))
    if unknown:
        return f"has unknown field(s) {unknown}; map any of {', '.join(_csv_fields())} to your file's column names"
    bad = [k for k, v in value.items() if not isinstance(v, str) or not v.strip()]
    return f"must map each field to a column name; '{bad[0]}' does not" if bad else None


def _check_aliases(value: Any) -> str | None:
    bad = [k for k, v in value.items() if not (isinstance(k, str) and k.strip() and isinstance(v, str) and v.strip())]
    return f"must map spellings to province names, e.g. {{Nangahar: Nangarhar}}; '{bad[0]}' does not" if bad else None


def _check_stronghold(value: Any) -> str | None:
    # A single name (or "A,B") is as good as a list; the gazetteer checks the names themselves.
    if isinstance(value, str):
        return None if value.strip() else 'is empty; write "auto", a unit name or a list of unit names'
    if not value or not all(isinstance(item, str) and item for item in value):
        return 'must be "auto", a unit name or a non-empty list of unit names'
    return None


def _check_as_of(value: Any) -> str | None:
    if value is None:
        return None
    if not _is_iso_date(value):
        return f"'{value}' is not an ISO date; write YYYY-MM-DD, or null for the last full period"
    return _problem(checks.date, value, "as_of")  # the range every date must lie in, before any notebook runs


def _check_seed(value: Any) -> str | None:
    return _problem(checks.whole_number, value, "seed", minimum=0)


def _check_synthetic(value: Any) -> str | None:
    for key in ("start", "end"):
        if key in value and not _is_iso_date(value[key]):
            return f"{key} '{value[key]}' is not an ISO date (YYYY-MM-DD)"
        if key in value and (problem := _problem(checks.date, value[key], key)):
            return problem
    if "start" in value and "end" in value and str(value["start"]) >= str(value["end"]):
        return f"start {value['start']} must come before end {value['end']}"
    if "seed" in value and (type(value["seed"]) is not int or value["seed"] < 0):
        return f"seed {value['seed']!r} must be an int of 0 or more"
    return None


@dataclass(frozen=True)
class GlobalParameter:
    """A key of the run's parameter file that means the same to every notebook.

    Attributes
    ----------
    types
        Accepted value types.
    help
        One line for people.
    check
        Returns what is wrong with a value of the right type, or ``None``.
    keys
        For a mapping: the sub-keys it may hold (``-p name.key=value`` may add
        any of them), or ``None`` when only the file's own keys may be set.
    normalise
        Turns another accepted spelling into the one notebooks receive, before
        the type checks: the list ``country: [AFG, PAK]`` into ``"AFG,PAK"``,
        the text ``-p models=a,b`` into the list ``--models a,b`` means.
    """

    types: tuple[type, ...]
    help: str
    check: Callable[[Any], str | None] | None = None
    keys: Callable[[], Sequence[str]] | None = None
    normalise: Callable[[Any], Any] | None = None


def _check_workers(value: Any) -> str | None:
    return None if value is None else _problem(checks.whole_number, value, "workers")


def _check_address(value: Any) -> str | None:
    if value is None:
        return None
    scheme, sep, rest = str(value).partition("://")
    if not sep or not rest or scheme not in ("tcp", "tls", "ucx"):
        return f"'{value}' is not a scheduler address; write tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"
    return None


def _country_key(value: Any) -> Any:
    """A list of countries (or "AFG, PAK") as the one string every entry point takes: ``"AFG,PAK"``."""
    from forecast.checks import countries

    if isinstance(value, list | tuple) or (isinstance(value, str) and ("," in value or "+" in value)):
        try:
            return countries(value, "country")
        except ForecastError as exc:
            raise ParameterError(f"parameter 'country' is not valid: {exc.detail}") from None
    return value


def _check_country(value: Any) -> str | None:
    if value is None:
        return None
    from forecast.checks import countries

    try:
        countries(value, "country")
    except ForecastError as exc:
        return f"is not valid: {exc.detail}"
    return None


def _model_list(value: Any) -> Any:
    """``-p models=a,b`` (text) as the list ``--models a,b`` gives; a YAML list stays as it is."""
    if not isinstance(value, str):
        return value
    from forecast.models.registry import parse_model_list

    return parse_model_list(value)


def _threshold_names() -> list[str]:
    from forecast.alarms.config import WarningConfig

    return sorted(WarningConfig.__dataclass_fields__)


def _check_thresholds(value: Any) -> str | None:
    unknown = sorted(set(value) - set(_threshold_names()))
    if unknown:
        return f"has unknown threshold(s) {unknown}; valid: {', '.join(_threshold_names())}"
    from forecast.alarms.config import WarningConfig

    try:  # the config checks its own values (cheap), so a bad threshold fails before any notebook runs
        WarningConfig(**value)
    except ForecastError as exc:
        return f"is not valid: {exc.detail}"
    return None


#: Keys every parameter file may hold, whether or not a selected notebook uses them.
GLOBAL_PARAMETERS: dict[str, GlobalParameter] = {
    "source": GlobalParameter((str,), "data source: " + ", ".join(SOURCES), _check_source),
    "events_path": GlobalParameter((str, NoneType), "provider file or canonical parquet; null for synthetic"),
    "actor": GlobalParameter((str, NoneType), "actor filter (regex on actor names); null = all actors"),
    "boundaries_path": GlobalParameter(
        (str, NoneType), "province boundaries for maps (GeoJSON/shapefile); null = cached download, else the shipped simplified geoBoundaries provinces, else a schematic; at level 2 the district boundary file (adjacency, centroids, maps)"
    ),
    "country": GlobalParameter(
        (str, NoneType), "ISO3 code or name of the country; several in one panel: [AFG, PAK] or AFG,PAK",
        _check_country, normalise=_country_key,
    ),
    "columns": GlobalParameter(
        (dict,), "generic CSV column mapping, e.g. {admin1: Province, date: Date} (source csv)", _check_columns,
        keys=_csv_fields,
    ),
    "aliases": GlobalParameter((dict,), "extra province spellings, e.g. {Nangahar: Nangarhar}", _check_aliases),
    "freq": GlobalParameter((str,), "period of the panel (pandas alias, e.g. W-MON)", _check_freq),
    "level": GlobalParameter((int,), "units of the panel: 1 provinces, 2 districts (source hdx)", _check_level),
    "horizon": GlobalParameter((int,), "periods ahead to forecast", _check_horizon),
    "models": GlobalParameter((list, NoneType), "model spec strings (a list, or comma-separated as for --models); "
                              "null = the candidates of the panel's frequency", _check_models,
                              normalise=_model_list),
    "selection": GlobalParameter(
        (str,), "how the reported forecaster is chosen: stack (backtest log-score stacking), best or none", _check_selection
    ),
    "stronghold": GlobalParameter((str, list), '"auto", a unit name or a list of unit names', _check_stronghold),
    "as_of": GlobalParameter((str, NoneType), "last observed period (ISO date); null = last full period", _check_as_of),
    "seed": GlobalParameter((int,), "random seed of predictive draws", _check_seed),
    "thresholds": GlobalParameter(
        (dict,), "warning-rule thresholds (fields of forecast.alarms.WarningConfig)", _check_thresholds,
        keys=_threshold_names,
    ),
    "synthetic": GlobalParameter((dict,), "settings of the synthetic scenario", _check_synthetic),
    "workers": GlobalParameter(
        (int, NoneType), "Dask worker processes on this machine for backtests and fits; null = in one process",
        _check_workers,
    ),
    "address": GlobalParameter(
        (str, NoneType), "Dask scheduler to run on (tcp://HOST:8786, several machines); null = none", _check_address,
    ),
}


def _check_draws(value: Any) -> str | None:
    return _problem(checks.draw_count, value, "draws")


def _check_periods(value: Any) -> str | None:
    return _problem(checks.whole_number, value, "periods")


def _check_optional_date(value: Any) -> str | None:
    if value is None:
        return None
    if not _is_iso_date(value):
        return f"'{value}' is not an ISO date; write YYYY-MM-DD"
    return _problem(checks.date, value, "date")


#: Checks of parameters only some notebooks declare, applied when a value is given
#: (the notebook's own default is trusted), so `-p n_draws=0` fails before any notebook runs.
NOTEBOOK_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "n_draws": _check_draws,
    "backtest_draws": _check_draws,
    "backtest_every": _check_periods,
    "backtest_start": _check_optional_date,
    "stronghold_window": _check_periods,
    "recent_periods": _check_periods,
}


# ---------------------------------------------------------------------------
# What a notebook declares
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeclaredParameter:
    """One assignment of a notebook's ``parameters`` cell.

    Attributes
    ----------
    name
        Variable name.
    default
        The literal value in the cell.
    types
        Accepted types: from the annotation if there is one, else the
        default's type (``float`` also takes ``int``); ``None`` (a default of
        ``None`` without annotation) accepts any JSON-simple value.
    help
        The comment on the line (or the comment lines just above).
    line
        1-based line in the cell.
    """

    name: str
    default: Any
    types: tuple[type, ...] | None
    help: str
    line: int

    @property
    def type_label(self) -> str:
        """Types as people write them: ``'int'``, ``'str | None'``, ``'any'``."""
        return _label(self.types)


@dataclass(frozen=True)
class NotebookSpec:
    """A notebook to run and the parameters it declares."""

    path: Path
    parameters: dict[str, DeclaredParameter] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The notebook's stem, e.g. ``01_data_overview``."""
        return self.path.stem


def _annotation_types(node: ast.expr) -> tuple[type, ...] | None:
    """Types named by an annotation (``int``, ``str | None``, ``Optional[str]``); None = any."""
    if isinstance(node, ast.Constant) and node.value is None:
        return (NoneType,)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "str | None" as a string
        try:
            return _annotation_types(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return None
    if isinstance(node, ast.Name):
        kind = _NAME_TYPES.get(node.id)
        return None if kind is None else (kind,)
    if isinstance(node, ast.Attribute):  # typing.List
        kind = _NAME_TYPES.get(node.attr)
        return None if kind is None else (kind,)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _annotation_types(node.left), _annotation_types(node.right)
        if left is None or right is None:
            return None
        return tuple(dict.fromkeys(left + right))
    if isinstance(node, ast.Subscript):
        base = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
        if base == "Optional":
            inner = _annotation_types(node.slice)
            return None if inner is None else tuple(dict.fromkeys(inner + (NoneType,)))
        if base == "Union" and isinstance(node.slice, ast.Tuple):
            parts = [_annotation_types(element) for element in node.slice.elts]
            if any(part is None for part in parts):
                return None
            return tuple(dict.fromkeys(kind for part in parts for kind in part))  # type: ignore[union-attr]
        kind = _NAME_TYPES.get(base)  # list[str], dict[str, float]
        return None if kind is None else (kind,)
    return None


def _comments_by_line(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return comments


def parse_parameters_source(source: str, *, where: str = "parameters cell") -> dict[str, DeclaredParameter]:
    """Read the assignments of a ``parameters`` cell without running it.

    Parameters
    ----------
    source
        The cell's code.
    where
        Named in error messages (usually the notebook's path).

    Returns
    -------
    dict
        Name to :class:`DeclaredParameter`, in the cell's order.

    Raises
    ------
    ParameterError
        The cell is not valid Python, or a value is not a literal.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParameterError(f"parameters cell line {exc.lineno}: {exc.msg}", path=where) from exc
    comments = _comments_by_line(source)
    lines = source.splitlines()
    declared: dict[str, DeclaredParameter] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, annotation = statement.targets[0], None
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, annotation = statement.target, statement.annotation
        else:
            continue  # imports or expressions: not parameters (the hygiene test flags them)
        if not isinstance(target, ast.Name):
            continue
        assert statement.value is not None
        try:
            default = ast.literal_eval(statement.value)
        except ValueError as exc:
            raise ParameterError(
                f"parameters cell line {statement.lineno}: the value of '{target.id}' is not a literal; "
                "write a JSON-simple value (dates as ISO strings)",
                path=where,
            ) from exc
        if annotation is not None:
            types = _annotation_types(annotation)
        elif default is None:
            types = None
        else:
            types = (type(default),)
        end = statement.end_lineno or statement.lineno
        help_text = next((comments[n] for n in range(statement.lineno, end + 1) if n in comments), "")
        if not help_text:  # a comment block just above the assignment also documents it
            above: list[str] = []
            n = statement.lineno - 1
            while n >= 1 and lines[n - 1].strip().startswith("#"):
                above.insert(0, comments.get(n, ""))
                n -= 1
            help_text = " ".join(part for part in above if part)
        declared[target.id] = DeclaredParameter(target.id, default, types, help_text, statement.lineno)
    return declared


def parameters_cells(notebook: Mapping[str, Any]) -> list[int]:
    """Indices of the cells tagged ``parameters`` (``notebook`` as read from the .ipynb JSON)."""
    return [
        index
        for index, cell in enumerate(notebook.get("cells", []))
        if "parameters" in (cell.get("metadata") or {}).get("tags", [])
    ]


def cell_source(cell: Mapping[str, Any]) -> str:
    """A cell's source as one string (the .ipynb format allows a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def declared_parameters(path: str | Path) -> dict[str, DeclaredParameter]:
    """The parameters a notebook declares in its cell tagged ``parameters``.

    A notebook without such a cell declares nothing; one with two is an error
    (papermill would inject after the first and the second would undo it).
    The file is read as plain JSON: validation must stay quick (nbformat's
    schema machinery costs seconds to import) so a typo fails at once.
    """
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ParameterError(f"cannot read the notebook: {exc}", path=path) from exc
    if not isinstance(notebook, dict):
        raise ParameterError("not a notebook (expected a JSON object with cells)", path=path)
    cells = parameters_cells(notebook)
    if not cells:
        return {}
    if len(cells) > 1:
        raise ParameterError(
            f"{len(cells)} cells are tagged 'parameters' (cells {', '.join(map(str, cells))}); keep exactly one",
            path=path,
        )
    return parse_parameters_source(cell_source(notebook["cells"][cells[0]]), where=str(path))


def notebook_spec(path: str | Path) -> NotebookSpec:
    """A :class:`NotebookSpec` for the notebook at ``path``."""
    return NotebookSpec(Path(path), declared_parameters(path))


# ---------------------------------------------------------------------------
# Loading the parameter file and -p overrides
# ---------------------------------------------------------------------------


@dataclass
class RunConfig:
    """Parameters of one run before they are split between notebooks.

    Attributes
    ----------
    values
        Final values: the file's, with ``-p`` overrides applied.
    path
        The parameter file read, if any.
    overrides
        The ``-p`` overrides as typed (``key -> raw text``), recorded in the
        manifest and used to keep a bare word a string where a string is
        expected (``-p country=NO`` is Norway, not ``False``).
    """

    values: dict[str, Any]
    path: Path | None = None
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def is_synthetic(self) -> bool:
        """Whether the run uses the embedded synthetic scenario."""
        return self.values.get("source", "synthetic") == "synthetic"


#: YAML aliases one parameter file or override may use: anchors save typing, not
#: gigabytes ("billion laughs": nine aliases of nine aliases ... expand to 10^9 values).
MAX_YAML_ALIASES = 100
#: Values (scalars, lists and mappings, aliases expanded) one parameter file may hold.
MAX_YAML_VALUES = 100_000
#: The largest parameter file read (the project's is 3 kB).
MAX_CONFIG_BYTES = 1 << 20


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses more than :data:`MAX_YAML_ALIASES` aliases while composing."""

    aliases = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def] - PyYAML's API
        if self.check_event(yaml.events.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise ParameterError(f"uses more than {MAX_YAML_ALIASES} YAML aliases (*name); write the values out")
        return super().compose_node(parent, index)


def _count_values(value: Any, limit: int) -> int:
    """Values in ``value`` with aliases expanded, counting stops past ``limit``."""
    count, stack = 0, [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return count


def safe_yaml(text: str, where: str) -> Any:
    """Read YAML with bounded aliases and size, so a hostile file is refused in milliseconds.

    Raises
    ------
    ParameterError
        More than :data:`MAX_YAML_ALIASES` aliases or :data:`MAX_YAML_VALUES` values.
    yaml.YAMLError
        Malformed YAML (the caller names the file and line).
    """
    try:
        value = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc.detail}") from None
    if _count_values(value, MAX_YAML_VALUES) > MAX_YAML_VALUES:
        raise ParameterError(f"{where}: holds more than {MAX_YAML_VALUES:,} values once its aliases are expanded; "
                             "write the values out")
    return value


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``key=value`` and read the value as YAML (dates back to ISO strings).

    >>> parse_override("horizon=4")
    ('horizon', 4)
    >>> parse_override('models=["hist_mean", "ensemble"]')
    ('models', ['hist_mean', 'ensemble'])
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", key):
        raise ParameterError(f"-p '{text}' is not key=value; write e.g. -p horizon=4 or -p thresholds.alpha=0.05")
    try:
        value = safe_yaml(raw, f"-p {key}") if raw.strip() else None
    except ParameterError:
        raise
    except ValueError as exc:  # YAML reads 2021-02-30 as a date and fails inside the calendar
        raise ParameterError(f"-p {key}: '{raw}' is not a valid value ({exc}); dates are YYYY-MM-DD") from exc
    except yaml.YAMLError as exc:
        raise ParameterError(f"-p {key}: cannot read '{raw}' as a value ({exc.__class__.__name__}); quote strings") from exc
    value = to_json_simple(value)
    if not is_json_simple(value):
        raise ParameterError(f"-p {key}: '{raw}' is not a JSON-simple value")
    return key, value


def _set_dotted(values: dict[str, Any], key: str, value: Any, raw: str) -> None:
    """Set ``a.b=value`` inside the mapping ``values['a']``; the sub-key must exist already.

    Requiring the key to exist catches typos (``thresholds.alfa``) that would
    otherwise be silently ignored by the notebooks.
    """
    *parents, leaf = key.split(".")
    node: Any = values
    for depth, part in enumerate(parents):
        where = ".".join(parents[:depth]) or "the parameter file"
        if not isinstance(node, dict) or part not in node:
            raise ParameterError(f"unknown parameter '{key}': {where} has no '{part}'")
        node = node[part]
    where = ".".join(parents)
    if not isinstance(node, dict):
        raise ParameterError(f"-p {key}: '{where}' is a {type_name(node)}, not a mapping")
    if leaf not in node:
        known = GLOBAL_PARAMETERS.get(parents[0]) if len(parents) == 1 else None
        allowed = sorted(known.keys()) if known is not None and known.keys is not None else sorted(node)
        if leaf not in allowed:
            raise ParameterError(f"unknown parameter '{key}'; '{where}' has: {', '.join(allowed) or 'nothing'}")
        node[leaf] = value
        return
    old = node[leaf]
    if old is not None and not accepts((type(old),), value):
        if isinstance(old, str) and _bare_word(raw):
            value = raw.strip()  # a bare word meant as text
        else:
            raise ParameterError(
                f"-p {key}: expected {type_name(old)} (like the file's {old!r}), got {type_name(value)} {value!r}"
            )
    node[leaf] = value


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> RunConfig:
    """Read the parameter file and apply ``-p key=value`` overrides.

    Parameters
    ----------
    path
        YAML mapping of parameter names to values. ``None`` starts from an
        empty mapping (tests, or a run driven entirely by ``-p``).
    overrides
        ``key=value`` strings; values are YAML (``-p horizon=4`` is an int,
        ``-p as_of=2021-12-27`` stays an ISO string); ``a.b=value`` sets a key
        inside a mapping such as ``thresholds``.

    Returns
    -------
    RunConfig

    Raises
    ------
    ParameterError
        Missing or malformed file, malformed override, unknown nested key.
    """
    values: dict[str, Any] = {}
    config_path = None if path is None else Path(path)
    if config_path is not None:
        if not config_path.is_file():
            raise ParameterError("parameter file not found; pass --config FILE or create config/default.yaml", path=config_path)
        if config_path.stat().st_size > MAX_CONFIG_BYTES:
            raise ParameterError(f"is {config_path.stat().st_size:,} bytes, more than the {MAX_CONFIG_BYTES:,} a "
                                 "parameter file may have; is it the right file?", path=config_path)
        try:
            loaded = safe_yaml(config_path.read_bytes().decode("utf-8-sig"), str(config_path))
        except UnicodeDecodeError as exc:
            raw = config_path.read_bytes()
            kind = "UTF-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "not UTF-8"
            raise ParameterError(f"the parameter file is {kind} (byte offset {exc.start}); save it as UTF-8",
                                 path=config_path) from None
        except ParameterError:
            raise
        except ValueError as exc:  # an impossible date such as 2021-02-30
            raise ParameterError(f"a value is not valid ({exc}); dates are YYYY-MM-DD", path=config_path) from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            raise ParameterError(f"{where}not valid YAML ({getattr(exc, 'problem', exc)})", path=config_path) from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ParameterError(f"expected a mapping of parameter names to values, found a {type_name(loaded)}", path=config_path)
        values = to_json_simple(loaded)
        bad = [key for key, value in values.items() if not is_json_simple(value)]
        if bad:
            raise ParameterError(f"parameter '{bad[0]}' is not a JSON-simple value", path=config_path)
    raw_overrides: dict[str, str] = {}
    for text in overrides:
        key, value = parse_override(text)
        raw = text.partition("=")[2]
        raw_overrides[key] = raw
        if "." in key:
            _set_dotted(values, key, value, raw)
        else:
            values[key] = value
    return RunConfig(values=values, path=config_path, overrides=raw_overrides)


# ---------------------------------------------------------------------------
# Validation and the split between notebooks
# ---------------------------------------------------------------------------


def _bare_word(raw: str | None) -> bool:
    return raw is not None and raw.strip() != "" and raw.strip()[0] not in "\"'[{"


def validate_parameters(
    config: RunConfig,
    notebooks: Sequence[NotebookSpec],
    *,
    injected: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Check every given parameter and return what each notebook receives.

    Parameters
    ----------
    config
        The loaded parameter file and overrides.
    notebooks
        The selected notebooks with their declared parameters.
    injected
        Values the runner sets (``output_dir``), given to notebooks that declare them.

    Returns
    -------
    dict
        Notebook name to ``{parameter: value}``: only the parameters it declares
        and that were given (undeclared-but-given keys are not passed; declared-
        but-not-given keep the notebook's default).

    Raises
    ------
    ParameterError
        An unknown name, a wrong type (naming the notebook, expected and got),
        a value that fails its global check, or a runner parameter given by hand.
    """
    values = dict(config.values)
    injected = dict(injected or {})
    declared_anywhere: dict[str, list[NotebookSpec]] = {}
    for spec in notebooks:
        for name in spec.parameters:
            declared_anywhere.setdefault(name, []).append(spec)

    for name in values:
        if name in RUNNER_PARAMETERS:
            raise ParameterError(f"parameter '{name}' is set by the runner ({RUNNER_PARAMETERS[name]}); remove it")
        if name not in GLOBAL_PARAMETERS and name not in declared_anywhere:
            offered = sorted(set(declared_anywhere) - set(RUNNER_PARAMETERS))
            raise ParameterError(
                f"unknown parameter '{name}'; notebooks declare: {', '.join(offered) or 'nothing'}"
                f"; global keys: {', '.join(GLOBAL_PARAMETERS)}"
            )

    for name, value in list(values.items()):
        raw = config.overrides.get(name)
        glob = GLOBAL_PARAMETERS.get(name)
        specs = declared_anywhere.get(name, [])
        expected_str = (glob is not None and str in glob.types) or any(
            spec.parameters[name].types is not None and str in spec.parameters[name].types for spec in specs
        )
        explicit_null = value is None and glob is not None and NoneType in glob.types
        if not isinstance(value, str) and not explicit_null and expected_str and _bare_word(raw) and (
            (glob is not None and not accepts(glob.types, value))
            or any(not accepts(spec.parameters[name].types, value) for spec in specs)
        ):
            value = raw.strip()  # type: ignore[union-attr]  # YAML read a bare word as a bool/number
            values[name] = value
        if glob is not None and glob.normalise is not None:
            value = values[name] = glob.normalise(value)
        if glob is not None:
            if not accepts(glob.types, value):
                users = f" (used by {', '.join(spec.path.name for spec in specs)})" if specs else ""
                hint = f"; write a list: -p {name}=a,b or -p '{name}=[a, b]'" if list in glob.types else ""
                raise ParameterError(
                    f"parameter '{name}'{users} expects {_label(glob.types)}, got {type_name(value)} {value!r}{hint}"
                )
            problem = glob.check(value) if glob.check else None
            if problem:
                raise ParameterError(f"parameter '{name}' {problem}")
        for spec in specs:
            declared = spec.parameters[name]
            if accepts(declared.types, value):
                continue
            if value is None and glob is not None and NoneType in glob.types:
                continue  # a null global (as_of, actor) means "automatic"; notebooks taking it handle None
            raise ParameterError(
                f"parameter '{name}' of notebook {spec.path.name} expects {declared.type_label} "
                f"(default {declared.default!r}), got {type_name(value)} {value!r}"
            )
        check = NOTEBOOK_CHECKS.get(name) if glob is None and specs else None
        if check is not None and (problem := check(value)):
            raise ParameterError(f"parameter '{name}' {problem}")

    if "models" in values and values["models"] is None:
        # null: the candidates of the panel's frequency, written out so the manifest and the index name them.
        values["models"] = list(default_models(values.get("freq") or FREQ))

    source = values.get("source", "synthetic")
    if source != "synthetic" and not values.get("events_path"):
        raise ParameterError(f"source '{source}' needs events_path: the provider's file (or the canonical parquet)")
    if values.get("level", 1) != 1 and source not in DISTRICT_SOURCES:
        raise ParameterError(
            f"parameter 'level' is {values['level']} (districts) and source '{source}' names provinces only; use "
            f"level=1, or source={DISTRICT_SOURCES[0]} with an HDX workbook (forecast fetch hdx --country AFG)"
        )

    per_notebook: dict[str, dict[str, Any]] = {}
    for spec in notebooks:
        chosen: dict[str, Any] = {}
        for name in spec.parameters:
            if name in injected:
                chosen[name] = injected[name]
            elif name in values:
                chosen[name] = copy.deepcopy(values[name])
        per_notebook[spec.name] = chosen
    config.values = values
    return per_notebook
