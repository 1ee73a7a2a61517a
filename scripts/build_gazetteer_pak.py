"""Write Pakistan's gazetteer tables and the Afghanistan-Pakistan border table.

No public-domain admin-1 geometry of Pakistan is available to the project
offline (the package indexes it can reach ship none: Natural Earth's 1:50m
admin-1 layer covers four countries, the 1:10m layer is not packaged), so no
geometry is derived or shipped: offline maps of a panel with Pakistan draw
the schematic layout (``forecast.geo.boundaries.schematic_boundaries``), and
a user's boundary file (``--boundaries``, or ``forecast gazetteer build``)
gives real polygons. The tables hold facts only, each with its source:

``PAK_units.csv``
    The seven first-level units of ISO 3166-2:PK (codes and names from
    pycountry), the Urdu name, the ISO subdivision type as ``region``, the
    coordinates of each unit's seat of government (GeoNames, to 0.01 degrees;
    *not* an area centroid) and the census population.
``PAK_aliases.csv``
    Name variants (KPK, NWFP, Baluchistan, AJK, ...), each with its source.
    The Federally Administered Tribal Areas (FATA, ISO code ``PK-TA`` until
    then) were merged into Khyber Pakhtunkhwa by the 25th constitutional
    amendment (2018), so "FATA" and the tribal districts' old umbrella name
    resolve to ``PK-KP``, and so does "Khyber" (the Khyber district, formerly
    Khyber Agency) when an event's country is Pakistan.
``PAK_adjacency.csv``
    Units sharing a border, both directions (a fact table, see ``PAK_BORDERS``).
``PAK_points.csv``
    One point per unit, its seat of government: the synthetic generator
    places Pakistani events there (with its ~1 km jitter).
``cross_border_adjacency.csv``
    Afghan provinces and Pakistani units sharing the Afghanistan-Pakistan
    border (Durand Line), both directions. Which Afghan provinces touch
    Pakistan was checked against Natural Earth's 1:50m Pakistan outline
    (public domain, as packaged in rnaturalearthdata, CC0) and the shipped
    Afghan geometry: exactly these 11 provinces touch it.

Deterministic: rerunning gives byte-identical files.

Usage::

    python scripts/build_gazetteer_pak.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import pycountry

from forecast.geo.derive import write_table
from forecast.geo.gazetteer import normalise_name

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "src" / "forecast" / "geo" / "tables"
ISO3 = "PAK"

#: unit -> (Urdu name, seat of government, latitude, longitude, population, population source).
UNITS: dict[str, tuple[str, str, float, float, int, str]] = {
    "PK-BA": ("بلوچستان", "Quetta", 30.18, 67.00, 14_894_402, "2023 census"),
    "PK-GB": ("گلگت بلتستان", "Gilgit", 35.92, 74.31, 1_492_924, "2017 census"),
    "PK-IS": ("اسلام آباد", "Islamabad", 33.72, 73.04, 2_363_863, "2023 census"),
    "PK-JK": ("آزاد جموں و کشمیر", "Muzaffarabad", 34.37, 73.47, 4_045_366, "2017 census"),
    "PK-KP": ("خیبر پختونخوا", "Peshawar", 34.01, 71.58, 40_856_097, "2023 census"),
    "PK-PB": ("پنجاب", "Lahore", 31.56, 74.35, 127_688_922, "2023 census"),
    "PK-SD": ("سندھ", "Karachi", 24.86, 67.01, 55_696_147, "2023 census"),
}

#: Name variants found in event data and reference works, with where they come from.
ALIASES: dict[str, list[tuple[str, str]]] = {
    "PK-BA": [("Baluchistan", "older spelling (GTD, UCDP)"), ("Beluchistan", "older spelling")],
    "PK-GB": [
        ("Gilgit Baltistan", "spelling without hyphen"),
        ("Northern Areas", "name until 2009"),
        ("Federally Administered Northern Areas", "name until 2009"),
        ("FANA", "abbreviation of the name until 2009"),
    ],
    "PK-IS": [
        ("Islamabad Capital Territory", "official name"),
        ("ICT", "abbreviation"),
        ("Federal Capital Territory", "official name (ISO 3166-2 type)"),
    ],
    "PK-JK": [
        ("Azad Kashmir", "common name (ACLED, GTD)"),
        ("AJK", "abbreviation"),
        ("Azad Jammu & Kashmir", "spelling with ampersand"),
        ("Azad Jammu Kashmir", "spelling without 'and'"),
    ],
    "PK-KP": [
        ("KPK", "abbreviation common in event data"),
        ("KP", "abbreviation"),
        ("Khyber-Pakhtunkhwa", "hyphenated spelling"),
        ("Khyber Pakhtoonkhwa", "transliteration"),
        ("Khyber Pukhtunkhwa", "transliteration"),
        ("Pakhtunkhwa", "short name"),
        ("North-West Frontier Province", "name until 2010"),
        ("North West Frontier", "name until 2010"),
        ("NWFP", "abbreviation of the name until 2010"),
        ("Federally Administered Tribal Areas", "merged into Khyber Pakhtunkhwa in 2018 (25th amendment)"),
        ("FATA", "merged into Khyber Pakhtunkhwa in 2018 (25th amendment)"),
        ("PK-TA", "ISO 3166-2 code of FATA before the 2018 merger"),
        ("Khyber", "Khyber district (Khyber Agency until 2018), a place name event data give as the province"),
    ],
    "PK-PB": [("Panjab", "transliteration")],
    "PK-SD": [("Sind", "older spelling (GTD)")],
}

#: Units sharing a border inside Pakistan (each pair once), as described in
#: the units' Wikipedia articles and the Pakistan Bureau of Statistics' maps.
PAK_BORDERS = [
    ("PK-BA", "PK-KP"), ("PK-BA", "PK-PB"), ("PK-BA", "PK-SD"),
    ("PK-KP", "PK-PB"), ("PK-KP", "PK-IS"), ("PK-KP", "PK-GB"), ("PK-KP", "PK-JK"),
    ("PK-PB", "PK-SD"), ("PK-PB", "PK-IS"), ("PK-PB", "PK-JK"),
    ("PK-GB", "PK-JK"),
]  # fmt: skip

#: Afghan provinces and the Pakistani units across the Durand Line from them (each pair once).
AFG_PAK_BORDERS = [
    ("AF-BDS", "PK-GB"), ("AF-BDS", "PK-KP"),  # the Wakhan: Gilgit-Baltistan and Chitral
    ("AF-NUR", "PK-KP"), ("AF-KNR", "PK-KP"), ("AF-NAN", "PK-KP"),
    ("AF-PIA", "PK-KP"), ("AF-KHO", "PK-KP"),
    ("AF-PKA", "PK-KP"), ("AF-PKA", "PK-BA"),  # the Waziristans; Zhob
    ("AF-ZAB", "PK-BA"), ("AF-KAN", "PK-BA"), ("AF-HEL", "PK-BA"), ("AF-NIM", "PK-BA"),
]  # fmt: skip
BORDER_SOURCE = (
    "Durand Line; Afghan side checked against Natural Earth 1:50m Pakistan outline (public domain) "
    "and the shipped AFG geometry"
)

UNITS_NOTE = (
    "Written by scripts/build_gazetteer_pak.py: ISO 3166-2:PK codes and names via pycountry; Urdu names; "
    "latitude/longitude are each unit's seat of government (GeoNames, CC BY 4.0), not area centroids; "
    "population: Pakistan Bureau of Statistics 2023 census (PK-GB, PK-JK: 2017 census). No geometry ships."
)


def units_table() -> pd.DataFrame:
    """One row per ISO 3166-2:PK unit, checked against pycountry (no unit missing, none extra)."""
    subdivisions = {s.code: s for s in pycountry.subdivisions.get(country_code="PK")}
    if set(subdivisions) != set(UNITS):
        raise SystemExit(f"pycountry's PK subdivisions {sorted(subdivisions)} differ from {sorted(UNITS)}")
    rows = [
        {
            "unit_id": code,
            "pcode": "",
            "name": subdivisions[code].name,
            "name_local": urdu,
            "region": subdivisions[code].type,
            "latitude": f"{lat:.2f}",
            "longitude": f"{lon:.2f}",
            "population": population,
        }
        for code, (urdu, _seat, lat, lon, population, _source) in sorted(UNITS.items())
    ]
    return pd.DataFrame(rows)


def aliases_table(units: pd.DataFrame) -> pd.DataFrame:
    """Every spelling with its source; refuses a key that would name two units."""
    rows = [(code, code, "ISO 3166-2 code") for code in units["unit_id"]]
    rows += [(code, name, "ISO 3166-2 name (pycountry)") for code, name in zip(units["unit_id"], units["name"], strict=True)]
    rows += [(code, UNITS[code][1], "seat of government") for code in units["unit_id"] if UNITS[code][1] != "Islamabad"]
    rows += [(code, alias, source) for code, spellings in sorted(ALIASES.items()) for alias, source in spellings]
    frame = pd.DataFrame(rows, columns=["unit_id", "alias", "source"])
    owner: dict[str, str] = {}
    for code, alias in zip(frame["unit_id"], frame["alias"], strict=True):
        if owner.setdefault(normalise_name(alias), code) != code:
            raise SystemExit(f"alias '{alias}' names both {owner[normalise_name(alias)]} and {code}")
    return frame.drop_duplicates(["unit_id", "alias"]).sort_values(["unit_id", "alias"], ignore_index=True)


def both_ways(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """Pairs listed in both directions, sorted."""
    rows = sorted({(a, b) for a, b in pairs} | {(b, a) for a, b in pairs})
    return pd.DataFrame(rows, columns=["unit_id", "neighbour_id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    units = units_table()
    write_table(units, out / f"{ISO3}_units.csv", UNITS_NOTE)
    write_table(
        aliases_table(units),
        out / f"{ISO3}_aliases.csv",
        "Written by scripts/build_gazetteer_pak.py: ISO 3166-2 codes and names via pycountry; former and "
        "common names (NWFP until 2010, FATA merged into Khyber Pakhtunkhwa in 2018, Northern Areas until 2009).",
    )
    write_table(
        both_ways(PAK_BORDERS),
        out / f"{ISO3}_adjacency.csv",
        "Written by scripts/build_gazetteer_pak.py: units sharing a border (fact table; the units' published "
        "descriptions), both directions.",
    )
    points = units[["unit_id", "latitude", "longitude"]]
    write_table(
        points,
        out / f"{ISO3}_points.csv",
        "Written by scripts/build_gazetteer_pak.py: one point per unit, its seat of government (GeoNames, CC BY 4.0).",
    )
    border = both_ways(AFG_PAK_BORDERS)
    border["source"] = BORDER_SOURCE
    write_table(
        border,
        out / "cross_border_adjacency.csv",
        "Written by scripts/build_gazetteer_pak.py: units on both sides of a country border that share it, "
        "both directions (AFG-PAK: the Durand Line).",
    )
    print(f"wrote {ISO3} tables and cross_border_adjacency.csv to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
