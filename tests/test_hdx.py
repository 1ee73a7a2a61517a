"""HDX's ACLED sub-national aggregates: the workbook reader, district and province panels, the download.

The workbooks are written here with openpyxl in the published layout (a
``TOU`` sheet, then ``Data``: seven districts of four provinces, 2020 and
2021, zero rows, a district renamed between the years). Downloads run
against the local server of tests/data/http/fakeproviders.py, playing HDX's
CKAN API; no test reaches the internet.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from forecast.data.dataset import load_dataset
from forecast.data.hdx import dataset_name, read_hdx
from forecast.errors import InputError, ParameterError, UnknownUnitError
from forecast.models.registry import forecast_panel

sys.path.insert(0, str(Path(__file__).parent / "data" / "http"))
import fakeproviders as fake  # noqa: E402

PROVINCE = {"AF01": "AF-KAB", "AF06": "AF-NAN", "AF30": "AF-HEL", "AF22": "AF-SAR"}


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return fake.hdx_workbook(tmp_path / "data" / "raw" / "hdx" / "afghanistan_civilian_targeting.xlsx")


def expected_totals(by: str) -> dict[str, int]:
    """Events per district (``by="district"``) or province, added up from the rows written."""
    totals: dict[str, int] = defaultdict(int)
    for row in fake.hdx_rows():
        key = row[4] if by == "district" else PROVINCE[row[5]]
        totals[key] += row[8]
    return dict(totals)


def test_province_panel_sums_districts_and_has_every_province(workbook):
    read = read_hdx(workbook)

    assert read.freq == "MS" and read.level == 1 and read.rows_read == 7 * 24
    data = load_dataset("hdx", workbook, freq="MS")
    panel = data.panel
    assert panel["unit_id"].nunique() == 34 and panel["ds"].nunique() == 24
    assert f"{panel['ds'].min():%F}" == "2020-01-01" and f"{panel['ds'].max():%F}" == "2021-12-01"
    totals = panel.groupby("unit_id")["y"].sum()
    for unit, total in expected_totals("province").items():
        assert totals[unit] == total
    assert totals.drop(list(PROVINCE.values())).sum() == 0
    kabul_jan = [r for r in fake.hdx_rows() if r[5] == "AF01" and r[6] == "January" and r[7] == 2021]
    row = panel[(panel["unit_id"] == "AF-KAB") & (panel["ds"] == "2021-01-01")].iloc[0]
    assert row["y"] == sum(r[8] for r in kabul_jan) and row["fatalities_best"] == sum(r[9] for r in kabul_jan)
    assert data.counts is not None and data.events.empty and data.country == "AFG"


def test_district_panel_keeps_p_codes_names_provinces_and_zero_districts(workbook):
    read = read_hdx(workbook, level=2)

    units = read.units.set_index("unit_id")
    assert list(units.index) == sorted(d[0] for d in fake.HDX_DISTRICTS)
    assert units.loc["AF0601", "parent_id"] == "AF-NAN" and units.loc["AF2201", "parent_id"] == "AF-SAR"
    # The renamed district is one unit, named by its latest spelling, and the note says so.
    assert units.loc["AF3002", "name"] == "Nahri Sarraj"
    assert any("AF3002" in note and "Nahr-e Saraj" in note and "Nahri Sarraj" in note for note in read.notes)

    data = load_dataset("hdx", workbook, freq="MS", level=2)
    assert sorted(data.panel["unit_id"].unique()) == sorted(units.index)
    assert len(data.panel) == 7 * 24
    totals = data.panel.groupby("unit_id")["y"].sum().to_dict()
    assert totals == expected_totals("district") and totals["AF2201"] == 0


def test_district_panels_run_models_without_neighbours_and_say_why_others_cannot(workbook):
    data = load_dataset("hdx", workbook, freq="MS", level=2, as_of="2021-10-31")

    frame = forecast_panel(data.panel, ["hist_mean"], horizon=2, n_draws=50, seed=1)
    assert set(frame.index["unit_id"]) == set(data.panel["unit_id"])
    with pytest.raises(ParameterError, match="neighbours=data.neighbours"):
        forecast_panel(data.panel, ["endemic_epidemic"], horizon=2, n_draws=50, seed=1)
    with pytest.raises(ParameterError) as caught:
        forecast_panel(data.panel, ["endemic_epidemic"], horizon=2, neighbours=data.neighbours)
    message = str(caught.value)
    assert "district" in message and "boundary file" in message and "hist_mean" in message and "\n" not in message


def test_the_demonstrations_workbook_has_no_fatalities(tmp_path):
    path = fake.hdx_workbook(tmp_path / "demonstrations.xlsx", fatalities=False)
    read = read_hdx(path)
    assert read.counts["fatalities_best"].sum() == 0
    assert read.counts["y"].sum() == sum(expected_totals("province").values())


def test_monthly_workbook_refuses_a_weekly_panel(workbook):
    with pytest.raises(ParameterError, match="monthly counts cannot make a weekly panel"):
        load_dataset("hdx", workbook, freq="W-MON")


def test_province_names_resolve_through_the_gazetteer_and_unknown_ones_are_named(tmp_path):
    rows = fake.hdx_rows()
    rows[0][1], rows[0][5] = "Kabel", "AF99"  # neither the name nor the P-code is known
    path = fake.hdx_workbook(tmp_path / "bad.xlsx", rows=rows)
    with pytest.raises(UnknownUnitError) as caught:
        read_hdx(path)
    assert "Kabel" in str(caught.value) and "Kabul" in str(caught.value)
    dropped = read_hdx(path, unmatched="drop")
    assert dropped.dropped["unmatched_unit"] == 1 and dropped.unmatched_names == {"Kabel": 1}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda rows: rows[3].__setitem__(6, "Janvier"), "'Janvier' is not an English month name"),
        (lambda rows: rows[5].__setitem__(8, -2), "below 0"),
        (lambda rows: rows[5].__setitem__(8, 1.5), "not a whole number"),
    ],
)
def test_bad_rows_are_one_line_errors_naming_row_and_column(tmp_path, change, fragment):
    rows = fake.hdx_rows()
    change(rows)
    path = fake.hdx_workbook(tmp_path / "bad.xlsx", rows=rows)
    with pytest.raises(InputError) as caught:
        read_hdx(path)
    message = str(caught.value)
    assert fragment in message and "row" in message and "\n" not in message


def test_a_workbook_without_the_data_sheet_names_the_sheets_it_has(tmp_path):
    path = fake.hdx_workbook(tmp_path / "other.xlsx", data_sheet="Sheet2")
    with pytest.raises(InputError, match="no sheet 'Data'.*TOU, Sheet2"):
        read_hdx(path)


def test_citations_carry_acled_attribution_and_terms(workbook):
    lines = load_dataset("hdx", workbook, freq="MS").citations()
    assert any(line.startswith("Armed Conflict Location & Event Data (ACLED)") for line in lines)
    assert any("Terms of Use" in line and "redistributed" in line for line in lines)


def test_dataset_name_follows_hdx():
    assert dataset_name("Afghanistan") == "afghanistan-acled-conflict-data"
    assert pd.Timestamp("2020-01-01").year == fake.HDX_YEARS[0]
