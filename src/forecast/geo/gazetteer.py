"""Administrative units: codes, names, aliases, centroids, adjacency, population.

A :class:`Gazetteer` holds one country's first-level units (Afghanistan's 34
provinces, Pakistan's 7 units) as small fact tables shipped with the package under
``forecast/geo/tables/<ISO3>_*.csv``. They were derived from public reference
data by ``scripts/build_gazetteer.py`` (and ``scripts/build_gazetteer_pak.py``); the sources and licences are listed in
``forecast/geo/tables/README.md`` and in the header line of every table.
``Gazetteer.load("AFG,PAK")`` holds several countries in one: names resolve
within an event's own country, and adjacency runs across the borders
(``cross_border_adjacency.csv``).

Event data spell the same province many ways (Hilmand/Helmand, Sar-e-Pul/Sari
Pul/Sar-e Pol, "Nangarhar province"). :func:`normalise_name` folds case,
diacritics, punctuation and "X province" affixes, and the alias table maps every
spelling seen in real data to one code. A name that still does not resolve is
never dropped silently: callers either place the event by its coordinates
(:meth:`Gazetteer.assign_points`) or fail with
:meth:`Gazetteer.unknown_names_message`, which lists each unknown name, how
many rows carry it and the closest known names.

Examples
--------
>>> from forecast.geo.gazetteer import Gazetteer
>>> gaz = Gazetteer.load("AFG")
>>> len(gaz.unit_ids)
34
>>> gaz.resolve("Nangarhar province"), gaz.resolve("Sari Pul"), gaz.resolve("AF06")
('AF-NAN', 'AF-SAR', 'AF-NAN')
>>> gaz.neighbours("AF-NAN")
['AF-KAB', 'AF-KNR', 'AF-LAG', 'AF-LOG', 'AF-PIA']
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from forecast.errors import InputError, ParameterError, UnknownUnitError

if TYPE_CHECKING:  # geopandas is slow to import; the CLI must start fast
    import geopandas

__all__ = ["Gazetteer", "normalise_name"]

#: Where the fact tables live inside the installed package.
DATA_PACKAGE = "forecast.geo"
DATA_DIR = "tables"

UNIT_COLUMNS = [
    "unit_id",
    "pcode",
    "name",
    "name_local",
    "region",
    "latitude",
    "longitude",
    "population",
]
ALIAS_COLUMNS = ["unit_id", "alias", "source"]
ADJACENCY_COLUMNS = ["unit_id", "neighbour_id"]
POINT_COLUMNS = ["unit_id", "latitude", "longitude"]

#: What to tell a user whose event file has names we cannot place.
DEFAULT_FIX = "add an alias with --aliases or fix the spelling, or pass --unmatched drop"

# --------------------------------------------------------------------------- names

# Letters that NFKD leaves alone but that data sources use interchangeably.
# Arabic yeh/kaf and the Persian forms are distinct code points that look the
# same; keyboards and OCR produce either, so both must give the same key.
_FOLD = str.maketrans(
    {
        "ı": "i",
        "ø": "o",
        "đ": "d",
        "ł": "l",
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ي": "ی",
        "ى": "ی",
        "ك": "ک",
        "ة": "ه",
        "ۀ": "ه",
        "\u0640": "",  # tatweel: a typographic stretch, not a letter
    }
)
# Apostrophes are dropped rather than turned into spaces, so that "Bam'yan"
# and "Bamyan" meet; every other non-alphanumeric character separates words.
_APOSTROPHES = re.compile(r"['’‘`´ʼʻʹ]")
_SEPARATORS = re.compile(r"[^\w]+|_")


def _fold(text: str) -> str:
    """Case, diacritics, look-alike letters and punctuation folded; no affix handling."""
    decomposed = unicodedata.normalize("NFKD", str(text)).translate(_FOLD)
    # Combining marks are the diacritics (ā, ō, ṟ) and the Arabic vowel signs;
    # format characters (zero-width joiners) only steer rendering.
    kept = "".join(
        ch
        for ch in decomposed
        if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf"
    )
    kept = _APOSTROPHES.sub("", kept.casefold())
    return " ".join(_SEPARATORS.sub(" ", kept).split())


# "Province" in the languages and transliterations event data use. Only whole
# words at the start or end are removed, and never when nothing would be left.
_PREFIXES = tuple(
    _fold(p) + " "
    for p in (
        "province of",
        "wilayat-e",
        "wilayat-i",
        "wilayat",
        "welayat-e",
        "welayat",
        "velayat-e",
        "velayat",
        "vilayat-e",
        "vilayat",
        "ولایت",
    )
)
_SUFFIXES = tuple(" " + _fold(s) for s in ("province", "prov", "wilayat", "velayat", "ولایت"))


def normalise_name(name: str) -> str:
    """Fold a place name to its lookup key.

    Lower-cases, strips diacritics (Unicode NFKD), unifies Arabic/Persian
    look-alike letters, drops apostrophes, turns every other punctuation mark,
    hyphen or run of whitespace into a single space, and removes "province"
    affixes ("X province", "Province of X", "Wilayat-e X", "ولایت X").
    Spelling variants that differ by more than that (Hilmand/Helmand) are the
    alias table's job, not this function's.

    Parameters
    ----------
    name
        A place name or code as found in data.

    Returns
    -------
    str
        The key; empty for an empty or all-punctuation name.

    Examples
    --------
    >>> normalise_name("Nangarhar province")
    'nangarhar'
    >>> normalise_name("  Sar-e-Pul ")
    'sar e pul'
    >>> normalise_name("Wilayat-e Baghlan")
    'baghlan'
    >>> normalise_name("Kunaṟ"), normalise_name("AF-NAN")
    ('kunar', 'af nan')
    """
    key = _fold(name)
    changed = True
    while changed:  # "Province of X province" needs two passes
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix):
                key, changed = key[len(prefix) :], True
        for suffix in _SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key, changed = key[: -len(suffix)], True
    return key


def _compact(key: str) -> str:
    # "Sar e Pul", "Sarepul" and "Sar-e-Pul" differ only by word breaks, and
    # so do "Day Kundi"/"Daykundi" and "کنر ها"/"کنرها": a second, space-free
    # key catches them without listing every split as an alias.
    return key.replace(" ", "")


# --------------------------------------------------------------------------- loading


def _data_file(name: str) -> Any:
    return resources.files(DATA_PACKAGE).joinpath(DATA_DIR, name)


def _read_table(name: str, dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """Read a shipped CSV, skipping its ``#`` attribution header lines."""
    text = _data_file(name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    # keep_default_na=False: a name or code such as "NA" must stay a string.
    return pd.read_csv(io.StringIO(body), dtype=dict(dtypes), keep_default_na=False)


@functools.lru_cache(maxsize=8)
def _read_country(iso3: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    units = _read_table(
        f"{iso3}_units.csv",
        {
            "unit_id": str,
            "pcode": str,
            "name": str,
            "name_local": str,
            "region": str,
            "latitude": float,
            "longitude": float,
            "population": "int64",
        },
    )
    aliases = _read_table(f"{iso3}_aliases.csv", {c: str for c in ALIAS_COLUMNS})
    adjacency = _read_table(f"{iso3}_adjacency.csv", {c: str for c in ADJACENCY_COLUMNS})
    points = _read_table(
        f"{iso3}_points.csv", {"unit_id": str, "latitude": float, "longitude": float}
    )
    return units, aliases, adjacency, points


#: Where each shipped country's population figures come from (captions name it).
POPULATION_SOURCES = {
    "AFG": "2021 estimates (NSIA/OCHA)",
    "PAK": "census (PBS 2023; 2017 for Gilgit-Baltistan and Azad Kashmir)",
}

#: Pairs of units on both sides of a country border (``unit_id, neighbour_id, source``), both directions.
CROSS_BORDER_TABLE = "cross_border_adjacency.csv"


@functools.lru_cache(maxsize=1)
def _read_cross_border() -> pd.DataFrame:
    return _read_table(CROSS_BORDER_TABLE, {"unit_id": str, "neighbour_id": str, "source": str})


def _country_iso3(country: str) -> str:
    """ISO 3166-1 alpha-3 code for a code or name; ParameterError when unknown."""
    text = str(country).strip()
    available = Gazetteer.available_countries()
    if text.upper() in available:
        return text.upper()
    import pycountry  # only needed for names and alpha-2 codes

    try:
        iso3 = pycountry.countries.lookup(text).alpha_3
    except LookupError:
        iso3 = None
    if iso3 not in available:
        what = f"'{country}' ({iso3})" if iso3 else f"'{country}'"
        raise ParameterError(
            f"no gazetteer for country {what}; available: {', '.join(available) or 'none'}. "
            "Add <ISO3>_units.csv and friends under forecast/geo/tables/ (scripts/build_gazetteer.py) to support another country."
        )
    return iso3


# --------------------------------------------------------------------------- gazetteer


@dataclass(frozen=True, eq=False, repr=False)
class Gazetteer:
    """One country's admin-1 units with names, aliases, adjacency and population.

    Build one with :meth:`load`; the constructor is for tests and for
    :meth:`with_aliases`. Instances are immutable: methods that change the
    tables return a new instance.

    Attributes
    ----------
    country_iso3
        ISO 3166-1 alpha-3 code, e.g. ``"AFG"``.
    units
        One row per unit, sorted by ``unit_id``: ``unit_id`` (ISO 3166-2,
        ``"AF-NAN"``), ``pcode`` (OCHA, ``"AF06"``), ``name`` (English, OCHA
        spelling), ``name_local`` (Dari), ``region``, ``latitude`` and
        ``longitude`` (area centroid), ``population`` (2021 total).
    aliases
        ``unit_id``, ``alias`` (as spelled in its source), ``source``, ``key``
        (``normalise_name(alias)``).
    adjacency
        ``unit_id``, ``neighbour_id``: units sharing a border, both directions.
    points
        ``unit_id``, ``latitude``, ``longitude``: seeded interior sample points,
        at least ~5 km inside the unit's border.

    Examples
    --------
    >>> gaz = Gazetteer.load("Afghanistan")
    >>> gaz.name_of("AF-HEL"), gaz.resolve("Helmand"), gaz.resolve("هلمند")
    ('Hilmand', 'AF-HEL', 'AF-HEL')
    >>> int(gaz.units["population"].sum())
    40411869
    """

    country_iso3: str
    units: pd.DataFrame
    aliases: pd.DataFrame
    adjacency: pd.DataFrame
    points: pd.DataFrame
    _lookup: dict[str, str] = field(init=False, repr=False, compare=False)
    _compact_lookup: dict[str, str] = field(init=False, repr=False, compare=False)
    _names: dict[str, str] = field(init=False, repr=False, compare=False)
    _neighbours: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    _by_country: dict[str, Gazetteer] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"{self.country_iso3} gazetteer"
        for label, frame, required in (
            ("units", self.units, UNIT_COLUMNS),
            ("aliases", self.aliases, ["unit_id", "alias"]),
            ("adjacency", self.adjacency, ADJACENCY_COLUMNS),
            ("points", self.points, POINT_COLUMNS),
        ):
            missing = [c for c in required if c not in frame.columns]
            if missing:
                raise InputError(f"{where}: {label} table lacks columns {missing}")

        units = self.units.sort_values("unit_id", ignore_index=True)
        if units["unit_id"].duplicated().any():
            dupes = sorted(units.loc[units["unit_id"].duplicated(), "unit_id"].unique())
            raise InputError(f"{where}: duplicate unit_id {dupes} in the units table")
        known = set(units["unit_id"])
        aliases = self.aliases.copy()
        if "source" not in aliases.columns:
            aliases["source"] = ""
        aliases["key"] = [normalise_name(a) for a in aliases["alias"]]
        for label, frame, cols in (
            ("aliases", aliases, ["unit_id"]),
            ("adjacency", self.adjacency, ADJACENCY_COLUMNS),
            ("points", self.points, ["unit_id"]),
        ):
            stray = sorted({v for c in cols for v in frame[c]} - known)
            if stray:
                raise InputError(
                    f"{where}: {label} table names units not in the units table: {stray}"
                )
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "aliases", aliases)

        if "country" in units.columns and units["country"].nunique() > 1:
            self._init_countries(units, aliases)
            return
        object.__setattr__(self, "_by_country", {})

        # Every way of naming a unit, folded: code, P-code, names, aliases.
        lookup: dict[str, str] = {}
        compact: dict[str, str | None] = {}
        spellings: list[tuple[str, str]] = []
        for column in ("unit_id", "pcode", "name", "name_local"):
            spellings.extend(zip(units[column], units["unit_id"], strict=True))
        spellings.extend(zip(aliases["alias"], aliases["unit_id"], strict=True))
        for spelling, unit_id in spellings:
            key = normalise_name(spelling)
            if not key:
                continue
            if lookup.setdefault(key, unit_id) != unit_id:
                raise InputError(
                    f"{where}: '{spelling}' (key '{key}') names both {lookup[key]} and {unit_id}; "
                    "remove one of the aliases"
                )
            # A space-free key that two units share is ambiguous: mark it unusable.
            short = _compact(key)
            compact[short] = unit_id if compact.get(short, unit_id) == unit_id else None
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(
            self, "_compact_lookup", {k: v for k, v in compact.items() if v is not None}
        )
        object.__setattr__(self, "_names", dict(zip(units["unit_id"], units["name"], strict=True)))
        neighbours: dict[str, list[str]] = {u: [] for u in units["unit_id"]}
        for a, b in zip(self.adjacency["unit_id"], self.adjacency["neighbour_id"], strict=True):
            if a != b and b not in neighbours[a]:
                neighbours[a].append(b)
            if a != b and a not in neighbours[b]:
                neighbours[b].append(a)
        object.__setattr__(self, "_neighbours", {u: sorted(v) for u, v in neighbours.items()})

    def _init_countries(self, units: pd.DataFrame, aliases: pd.DataFrame) -> None:
        """Several countries: one gazetteer per country for names, adjacency over all of them.

        A name is looked up among its own country's units when the country is
        known (:meth:`resolve` with ``country=``); without one, only keys that
        name a unit in exactly one country resolve.
        """
        country_of = dict(zip(units["unit_id"], units["country"], strict=True))
        aliases = aliases.copy()
        if "country" not in aliases.columns:
            aliases["country"] = aliases["unit_id"].map(country_of)
        by_country: dict[str, Gazetteer] = {}
        for iso3, rows in units.groupby("country", sort=True):
            ids = set(rows["unit_id"])
            inside = self.adjacency["unit_id"].isin(ids) & self.adjacency["neighbour_id"].isin(ids)
            by_country[str(iso3)] = Gazetteer(
                str(iso3),
                rows.drop(columns="country").reset_index(drop=True),
                aliases.loc[aliases["unit_id"].isin(ids), ["unit_id", "alias", "source"]].reset_index(drop=True),
                self.adjacency.loc[inside, ADJACENCY_COLUMNS].reset_index(drop=True),
                self.points[self.points["unit_id"].isin(ids)].reset_index(drop=True),
            )
        lookup: dict[str, str | None] = {}
        compact: dict[str, str | None] = {}
        for gazetteer in by_country.values():
            for source, target in ((gazetteer._lookup, lookup), (gazetteer._compact_lookup, compact)):
                for key, unit_id in source.items():
                    target[key] = unit_id if target.get(key, unit_id) == unit_id else None
        object.__setattr__(self, "aliases", aliases)
        object.__setattr__(self, "_by_country", by_country)
        object.__setattr__(self, "_lookup", {k: v for k, v in lookup.items() if v is not None})
        object.__setattr__(self, "_compact_lookup", {k: v for k, v in compact.items() if v is not None})
        object.__setattr__(self, "_names", dict(zip(units["unit_id"], units["name"], strict=True)))
        neighbours: dict[str, set[str]] = {u: set() for u in units["unit_id"]}
        for a, b in zip(self.adjacency["unit_id"], self.adjacency["neighbour_id"], strict=True):
            if a != b:
                neighbours[a].add(b)
                neighbours[b].add(a)
        object.__setattr__(self, "_neighbours", {u: sorted(v) for u, v in neighbours.items()})

    @property
    def countries(self) -> list[str]:
        """ISO3 codes of the countries the gazetteer covers, sorted.

        Examples
        --------
        >>> Gazetteer.load("AFG").countries, Gazetteer.load("AFG,PAK").countries
        (['AFG'], ['AFG', 'PAK'])
        """
        return list(self._by_country) or [self.country_iso3]

    def country_gazetteer(self, country: str) -> Gazetteer:
        """The gazetteer of one of the covered countries (itself when it covers only that one).

        Examples
        --------
        >>> Gazetteer.load("AFG,PAK").country_gazetteer("PAK").unit_ids[:2]
        ['PK-BA', 'PK-GB']
        """
        iso3 = str(country).strip().upper()
        if not self._by_country and iso3 == self.country_iso3:
            return self
        if iso3 not in self._by_country:
            raise ParameterError(
                f"country {country!r} is not in the {self.country_iso3} gazetteer; it covers {', '.join(self.countries)}"
            )
        return self._by_country[iso3]

    def country_of(self, unit_id: str) -> str:
        """ISO3 code of a unit's country.

        Examples
        --------
        >>> Gazetteer.load("AFG,PAK").country_of("PK-KP")
        'PAK'
        """
        self.name_of(unit_id)
        if not self._by_country:
            return self.country_iso3
        return str(self.units.set_index("unit_id").at[unit_id, "country"])

    @property
    def population_source(self) -> str:
        """Where the population figures come from, per country for several.

        Examples
        --------
        >>> Gazetteer.load("AFG").population_source
        '2021 estimates (NSIA/OCHA)'
        >>> Gazetteer.load("AFG,PAK").population_source
        'AFG 2021 estimates (NSIA/OCHA); PAK census (PBS 2023; 2017 for Gilgit-Baltistan and Azad Kashmir)'
        """
        sources = [POPULATION_SOURCES.get(c, "the gazetteer's table") for c in self.countries]
        if len(sources) == 1:
            return sources[0]
        return "; ".join(f"{c} {s}" for c, s in zip(self.countries, sources, strict=True))

    def __repr__(self) -> str:
        pairs = sum(len(v) for v in self._neighbours.values()) // 2
        return (
            f"Gazetteer({self.country_iso3!r}: {len(self.units)} units, "
            f"{len(self.aliases)} aliases, {pairs} adjacent pairs)"
        )

    # ----------------------------------------------------------------- construction

    @classmethod
    def load(cls, country: str) -> Gazetteer:
        """Load the shipped gazetteer of a country.

        Parameters
        ----------
        country
            ISO 3166-1 alpha-3 or alpha-2 code or English name, any case
            (``"AFG"``, ``"af"``, ``"Afghanistan"``).

        Raises
        ------
        ParameterError
            No gazetteer ships for that country; the message lists those that do.

        Examples
        --------
        >>> Gazetteer.load("af").country_iso3
        'AFG'
        """
        parts = [p for p in re.split(r"[,+]", str(country)) if p.strip()]
        if len(parts) > 1:
            return cls._load_several(sorted({_country_iso3(p) for p in parts}))
        iso3 = _country_iso3(country)
        # Tables are cached; each instance gets copies so a caller mutating one
        # DataFrame in place cannot corrupt the next load().
        units, aliases, adjacency, points = (t.copy() for t in _read_country(iso3))
        return cls(iso3, units, aliases, adjacency, points)

    @classmethod
    def _load_several(cls, codes: list[str]) -> Gazetteer:
        """The shipped tables of several countries in one gazetteer, with the pairs across their borders."""
        if len(codes) == 1:
            return cls.load(codes[0])
        tables: list[list[pd.DataFrame]] = [[], [], [], []]
        for iso3 in codes:
            units, aliases, adjacency, points = (t.copy() for t in _read_country(iso3))
            units.insert(0, "country", iso3)
            aliases.insert(0, "country", iso3)
            for store, table in zip(tables, (units, aliases, adjacency, points), strict=True):
                store.append(table)
        units, aliases, adjacency, points = (pd.concat(t, ignore_index=True) for t in tables)
        if units["unit_id"].duplicated().any():
            dupes = sorted(units.loc[units["unit_id"].duplicated(), "unit_id"])
            raise InputError(f"unit ids {dupes} are used by two countries of {', '.join(codes)}; ids must be unique")
        ids = set(units["unit_id"])
        border = _read_cross_border()
        border = border[border["unit_id"].isin(ids) & border["neighbour_id"].isin(ids)]
        adjacency = pd.concat([adjacency, border[ADJACENCY_COLUMNS]], ignore_index=True)
        return cls(",".join(codes), units, aliases, adjacency, points)

    @staticmethod
    def available_countries() -> list[str]:
        """ISO3 codes of the countries whose gazetteer ships with the package.

        Examples
        --------
        >>> "AFG" in Gazetteer.available_countries()
        True
        """
        folder = resources.files(DATA_PACKAGE).joinpath(DATA_DIR)
        found = (re.fullmatch(r"([A-Z]{3})_units\.csv", entry.name) for entry in folder.iterdir())
        return sorted(m.group(1) for m in found if m)

    def with_aliases(self, extra: Mapping[str, str]) -> Gazetteer:
        """Return a new gazetteer that also knows user-supplied aliases.

        Parameters
        ----------
        extra
            ``{alias: target}``; the target is anything :meth:`resolve`
            accepts (a name, alias, ISO or P-code).

        Raises
        ------
        ParameterError
            A target is unknown, an alias is blank, or an alias already means
            a different unit.

        Examples
        --------
        >>> gaz = Gazetteer.load("AFG").with_aliases({"Jalalabad area": "Nangarhar"})
        >>> gaz.resolve("JALALABAD AREA")
        'AF-NAN'
        """
        rows = []
        for alias, target in extra.items():
            unit_id = self.resolve(target)
            if unit_id is None:
                close = ", ".join(self.closest(str(target))) or "no close match"
                raise ParameterError(
                    f"alias '{alias}' points to '{target}', which is not a known "
                    f"{self.country_iso3} unit (closest: {close})"
                )
            key = normalise_name(alias)
            if not key:
                raise ParameterError(f"alias '{alias}' for '{target}' is blank after normalisation")
            current = self._lookup.get(key)
            if current is not None and current != unit_id:
                raise ParameterError(
                    f"alias '{alias}' for '{target}' ({unit_id}) already means "
                    f"{self.name_of(current)} ({current}); choose another alias"
                )
            rows.append({"unit_id": unit_id, "alias": str(alias), "source": "user"})
        if not rows:
            return self
        added = pd.DataFrame(rows).astype({"unit_id": self.units["unit_id"].dtype})
        aliases = pd.concat([self.aliases.drop(columns="key"), added], ignore_index=True)
        return dataclasses.replace(self, aliases=aliases)

    # ----------------------------------------------------------------- lookup

    @property
    def unit_ids(self) -> list[str]:
        """All unit codes, sorted."""
        return self.units["unit_id"].tolist()

    def name_of(self, unit_id: str) -> str:
        """English name of a unit code.

        Examples
        --------
        >>> Gazetteer.load("AFG").name_of("AF-NAN")
        'Nangarhar'
        """
        try:
            return self._names[unit_id]
        except KeyError:
            raise UnknownUnitError(
                f"'{unit_id}' is not a {self.country_iso3} unit code; "
                f"codes look like {self.unit_ids[0]}"
            ) from None

    def resolve(self, name: str | None, country: str | None = None) -> str | None:
        """Unit code for any known name, alias or code, or ``None``.

        Accepts English and local names, ISO 3166-2 codes, P-codes and every
        alias, in any case, with or without diacritics, word breaks or
        "province" affixes. Missing values give ``None``. In a gazetteer of
        several countries ``country`` (ISO3) limits the search to that
        country's units, so "Khyber" in Pakistan is never an Afghan unit;
        without it a name resolves only when one country has it.

        Examples
        --------
        >>> gaz = Gazetteer.load("AFG")
        >>> [gaz.resolve(n) for n in ("Sar-e-Pul", "sari pul", "Sar-e Pol province", "Sarepul")]
        ['AF-SAR', 'AF-SAR', 'AF-SAR', 'AF-SAR']
        >>> gaz.resolve("Atlantis") is None, gaz.resolve(None) is None
        (True, True)
        """
        if country is not None and self._by_country:
            return self.country_gazetteer(country).resolve(name)
        if name is None or (not isinstance(name, str) and pd.isna(name)):
            return None
        key = normalise_name(str(name))
        if not key:
            return None
        found = self._lookup.get(key)
        return found if found is not None else self._compact_lookup.get(_compact(key))

    def resolve_names(self, names: pd.Series, country: str | pd.Series | None = None) -> pd.Series:
        """Vectorised :meth:`resolve`: unit codes, missing where unknown, same index.

        ``country``: one ISO3 code or one per row (an events table's
        ``country_iso3``), for a gazetteer of several countries.

        Each distinct value is resolved once, so a million event rows with
        34 distinct names cost 34 lookups.

        Examples
        --------
        >>> gaz = Gazetteer.load("AFG")
        >>> gaz.resolve_names(pd.Series(["Hilmand", "Helmand", "Mordor"])).tolist()
        ['AF-HEL', 'AF-HEL', nan]
        """
        names = pd.Series(names)
        if country is not None and self._by_country:
            per_row = pd.Series(country, index=names.index) if isinstance(country, str) else pd.Series(country).set_axis(names.index)
            out = pd.Series(None, index=names.index, dtype=object, name="unit_id")
            for iso3, rows in names.groupby(per_row.astype(str).str.upper()):
                out.loc[rows.index] = self.country_gazetteer(str(iso3)).resolve_names(rows).astype(object)
            return out.astype(self.units["unit_id"].dtype)
        mapping = {value: self.resolve(value) for value in names.dropna().unique()}
        resolved = names.map(mapping).astype(object).rename("unit_id")
        return resolved.astype(self.units["unit_id"].dtype)

    def closest(self, name: str, n: int = 3) -> list[str]:
        """Up to ``n`` English names of the units whose spellings are closest to ``name``.

        Compares normalised keys of every name and alias (difflib ratio of
        at least 0.6), so "Nangahar" finds Nangarhar through its own key and
        "Hellmand" finds Hilmand through the alias "Helmand".

        Examples
        --------
        >>> Gazetteer.load("AFG").closest("Nangahar")[0]
        'Nangarhar'
        """
        key = normalise_name(str(name))
        if not key or n <= 0:
            return []
        candidates = difflib.get_close_matches(
            key, list(self._lookup), n=len(self._lookup), cutoff=0.6
        )
        out: list[str] = []
        for candidate in candidates:
            english = self._names[self._lookup[candidate]]
            if english not in out:
                out.append(english)
            if len(out) == n:
                break
        return out

    def unknown_names_message(
        self,
        names: pd.Series,
        *,
        path: str | Path | None = None,
        column: str = "admin1",
        fix: str | None = None,
        limit: int = 20,
    ) -> str:
        """One-line message about the names that do not resolve; ``""`` when all do.

        Lists each unknown name with its row count and the closest known
        names, most frequent first, then what to do. Missing values are not
        counted: they are not names. Raise it as
        ``UnknownUnitError(message)`` (without ``path=``: the message already
        names the file and column).

        Parameters
        ----------
        names
            The name column as read from the file.
        path, column
            Where the names came from, for the message.
        fix
            What the user should do; defaults to the ingest options.
        limit
            Names listed at most; the rest are counted.

        Examples
        --------
        >>> gaz = Gazetteer.load("AFG")
        >>> print(gaz.unknown_names_message(pd.Series(["Nangahar", "Nangahar", "Kabul"]),
        ...                                 path="events.csv", column="province"))
        ... # doctest: +NORMALIZE_WHITESPACE
        events.csv, column 'province': 1 name (2 of 3 rows) is not a known AFG unit:
        'Nangahar' (2 rows; closest: Nangarhar, Kandahar). Fix: add an alias with
        --aliases or fix the spelling, or pass --unmatched drop.
        """
        names = pd.Series(names)
        present = names[names.notna()]
        unknown = present[self.resolve_names(present).isna()].astype(str)
        if unknown.empty:
            return ""
        counts = unknown.value_counts(sort=False)
        # Most rows first; ties alphabetically so the message is reproducible.
        order = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        parts = []
        for value, count in order[:limit]:
            close = self.closest(value)
            hint = f"closest: {', '.join(close)}" if close else "no close match"
            parts.append(f"'{value}' ({count} row{'' if count == 1 else 's'}; {hint})")
        if len(order) > limit:
            parts.append(f"and {len(order) - limit} more")
        where = ", ".join(p for p in (str(path) if path else "", f"column '{column}'") if p)
        n_names = len(order)
        noun = "name" if n_names == 1 else "names"
        verb = "is" if n_names == 1 else "are"
        message = (
            f"{where}: {n_names} {noun} ({len(unknown)} of {len(names)} rows) {verb} not "
            f"a known {self.country_iso3} unit: {'; '.join(parts)}. Fix: {fix or DEFAULT_FIX}."
        )
        return " ".join(message.split())

    # ----------------------------------------------------------------- neighbourhood

    def neighbours(self, unit_id: str) -> list[str]:
        """Codes of the units sharing a border with ``unit_id``, sorted.

        Examples
        --------
        >>> [Gazetteer.load("AFG").name_of(u) for u in Gazetteer.load("AFG").neighbours("AF-NAN")]
        ['Kabul', 'Kunar', 'Laghman', 'Logar', 'Paktya']
        """
        self.name_of(unit_id)  # raises UnknownUnitError with a readable message
        return list(self._neighbours[unit_id])

    def _order(self, order: Iterable[str] | None) -> list[str]:
        ids = self.unit_ids if order is None else list(order)
        unknown = [u for u in ids if u not in self._names]
        if unknown:
            raise UnknownUnitError(
                f"not {self.country_iso3} unit codes: {unknown[:10]}"
                f"{' ...' if len(unknown) > 10 else ''}; use Gazetteer.resolve_names first"
            )
        if len(set(ids)) != len(ids):
            dupes = sorted({u for u in ids if ids.count(u) > 1})
            raise ParameterError(f"unit order lists {dupes} more than once")
        return ids

    def adjacency_matrix(self, order: Iterable[str] | None = None) -> np.ndarray:
        """0/1 neighbourhood matrix: symmetric, zero diagonal, rows and columns in ``order``.

        Parameters
        ----------
        order
            Unit codes (a subset is fine, e.g. the units of a panel); default
            :attr:`unit_ids`.

        Examples
        --------
        >>> W = Gazetteer.load("AFG").adjacency_matrix()
        >>> W.shape, bool((W == W.T).all()), int(W.trace())
        ((34, 34), True, 0)
        """
        ids = self._order(order)
        position = {u: i for i, u in enumerate(ids)}
        matrix = np.zeros((len(ids), len(ids)), dtype=np.int64)
        for unit_id in ids:
            for other in self._neighbours[unit_id]:
                if other in position:
                    matrix[position[unit_id], position[other]] = 1
        return matrix

    def adjacency_order(self, order: Iterable[str] | None = None) -> np.ndarray:
        """Neighbourhood order: shortest path in border crossings between units.

        0 on the diagonal, 1 for neighbours, 2 for neighbours of neighbours,
        ... (``surveillance::nbOrder``), as float with ``inf`` for units that
        no chain of borders connects. Paths run through the whole country
        even when ``order`` is a subset, so two units keep their true distance.

        Examples
        --------
        >>> gaz = Gazetteer.load("AFG")
        >>> D = gaz.adjacency_order(["AF-NAN", "AF-KAB", "AF-HER"])
        >>> D[:2, :2].tolist()
        [[0.0, 1.0], [1.0, 0.0]]
        """
        from forecast.geo.adjacency import adjacency_order

        ids = self._order(order)
        full = adjacency_order(self.adjacency_matrix(), self.unit_ids)
        return full.loc[ids, ids].to_numpy()

    def population_fraction(self) -> pd.Series:
        """Each unit's share of the country's population, indexed by ``unit_id``.

        Examples
        --------
        >>> share = Gazetteer.load("AFG").population_fraction()
        >>> round(float(share.sum()), 12), round(float(share["AF-KAB"]), 3)
        (1.0, 0.166)
        """
        population = self.units.set_index("unit_id")["population"].astype(float)
        return (population / population.sum()).rename("population_fraction")

    # ----------------------------------------------------------------- geometry

    def match_boundaries(
        self, boundaries: geopandas.GeoDataFrame, column: str | None = None
    ) -> geopandas.GeoDataFrame:
        """Add a ``unit_id`` column to user-supplied boundary polygons.

        Parameters
        ----------
        boundaries
            One row per polygon with a name or code column.
        column
            The column to resolve; by default the first whose values resolve
            for at least 90% of rows.

        Returns
        -------
        geopandas.GeoDataFrame
            A copy with ``unit_id``.

        Raises
        ------
        InputError
            No column resolves, or some rows of the chosen column do not
            (the message lists them with the closest known names).
        """
        frame = boundaries.copy()
        geometry = frame.geometry.name
        if column is not None and column not in frame.columns:
            raise InputError(
                f"boundaries have no column '{column}'; columns: {list(frame.columns)}"
            )
        candidates = [column] if column is not None else [c for c in frame.columns if c != geometry]
        chosen, resolved = None, None
        for candidate in candidates:
            values = frame[candidate]
            if column is None and pd.api.types.is_numeric_dtype(values):
                continue
            attempt = self.resolve_names(values)
            if column is not None or (len(frame) and attempt.notna().mean() >= 0.9):
                chosen, resolved = candidate, attempt
                break
        if chosen is None or resolved is None:
            raise InputError(
                f"boundaries: no column names {self.country_iso3} units in at least 90% of rows "
                f"(tried {candidates}); pass column= or add aliases with Gazetteer.with_aliases"
            )
        if resolved.isna().any():
            raise InputError(
                self.unknown_names_message(
                    frame[chosen],
                    path="boundaries",
                    column=chosen,
                    fix="fix the names, add aliases with Gazetteer.with_aliases, or choose another column",
                )
            )
        frame["unit_id"] = resolved
        return frame

    def assign_points(
        self,
        latitude: Any,
        longitude: Any,
        boundaries: geopandas.GeoDataFrame,
    ) -> pd.Series:
        """Unit of each point by point-in-polygon; missing outside every polygon.

        Parameters
        ----------
        latitude, longitude
            Degrees (WGS84), array-likes of equal length; a Series' index is kept.
        boundaries
            Unit polygons, with ``unit_id`` or a column :meth:`match_boundaries`
            can resolve. Any CRS (none means WGS84).

        Returns
        -------
        pandas.Series
            ``unit_id`` per point; missing for missing coordinates and for
            points outside all polygons. A point on a shared border gets the
            first polygon that contains it.
        """
        import geopandas

        index = latitude.index if isinstance(latitude, pd.Series) else None
        # Pair coordinates by position: two Series from the same frame share an
        # index anyway, and arrays have none.
        lat_values = pd.to_numeric(pd.Series(np.asarray(latitude, dtype=object)), errors="coerce")
        lon_values = pd.to_numeric(pd.Series(np.asarray(longitude, dtype=object)), errors="coerce")
        if len(lat_values) != len(lon_values):
            raise ParameterError(
                f"latitude has {len(lat_values)} values but longitude {len(lon_values)}; "
                "they must pair up"
            )
        lat_values = lat_values.to_numpy(dtype=float)
        lon_values = lon_values.to_numpy(dtype=float)
        if index is None:
            index = pd.RangeIndex(len(lat_values))
        if "unit_id" not in boundaries.columns:
            boundaries = self.match_boundaries(boundaries)
        polygons = boundaries[["unit_id", boundaries.geometry.name]].copy()
        if polygons.crs is None:
            polygons = polygons.set_crs("EPSG:4326")
        if not polygons.geometry.is_valid.all():
            # Real boundary files carry self-intersections; repairing keeps
            # GEOS from refusing the predicate.
            polygons[polygons.geometry.name] = polygons.geometry.make_valid()

        valid = np.isfinite(lat_values) & np.isfinite(lon_values)
        rows = np.flatnonzero(valid)
        points = geopandas.GeoDataFrame(
            {"_row": rows},
            geometry=geopandas.points_from_xy(lon_values[valid], lat_values[valid]),
            crs="EPSG:4326",
        ).to_crs(polygons.crs)
        joined = geopandas.sjoin(points, polygons, how="inner", predicate="intersects")
        joined = joined.drop_duplicates("_row", keep="first")
        out = np.full(len(lat_values), None, dtype=object)
        out[joined["_row"].to_numpy()] = joined["unit_id"].to_numpy(dtype=object)
        return pd.Series(out, index=index, name="unit_id").astype(self.units["unit_id"].dtype)
