"""Hostile input, refused the same way everywhere (issue 19): a corpus of bad files and bad arguments.

Every case runs the real ``forecast`` command in its own process, in a
throw-away copy of a project folder (``config/``, ``notebooks/``, a raw CSV
under ``data/raw/csv/`` and the whole corpus of ``tests/data/bad/`` under
``bad/``), and must:

- exit with status 2;
- print exactly one non-empty line on stderr, and no traceback;
- write nothing: no file or folder appears anywhere in the project folder
  (so none under ``data/`` or ``reports/``), and every file there, the raw
  data and the inputs included, keeps its sha256;
- never show a (fake) credential: the password and e-mail the environment
  holds (also URL-encoded) or the bearer token the local server issues.

The files of ``tests/data/bad/`` are described in :data:`CORPUS`; the argument
cases (every verb of the command line) are generated in :data:`CASES`; the
``http-*`` cases download from a local server (:func:`_hostile_server`, on
loopback) that answers what no provider should: error pages quoting the login
form, ``success: false`` with the token and e-mail, HTML for a zip. Every other
download goes to a loopback port nothing listens on: no case leaves the machine.

Start-up is what costs: a fresh interpreter importing pandas for each case
would take minutes on two cores. So one driver process imports the command
once and forks a child per case; each child is a separate process with its
own working directory, environment, stdout and stderr, and runs the console
script's ``main`` exactly as ``python -m forecast.cli`` does. Set
``FORECAST_BAD_INPUTS_SPAWN=1`` to run each case in a fresh interpreter instead
(slower, same assertions).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BAD = Path(__file__).parent / "data" / "bad"
GENERIC = Path(__file__).parent / "data" / "generic_events.csv"
SECRET = "pw-FAKE-hunter2-91c"
EMAIL = "analyst.fake@example.org"
#: The bearer token the local server issues (tests/data/http/acled_token.json).
TOKEN = json.loads((Path(__file__).parent / "data" / "http" / "acled_token.json").read_text())["access_token"]
#: A loopback port nothing listens on: a download that gets this far is refused at once, offline.
DEAD = "http://127.0.0.1:9"
#: Seconds one case may take before it counts as hanging (its child is killed).
CASE_TIMEOUT = 60

#: Each file of ``tests/data/bad/`` and why it is hostile.
CORPUS = {
    "date_year_0001.csv": "a date in year 1 (pandas cannot hold it)",
    "date_year_1677.csv": "a date before pandas' first representable day",
    "date_year_9999.csv": "a date in year 9999",
    "date_future_2060.csv": "event dates in 2059-2061, decades after today",
    "date_not_a_date.csv": "'yesterday' as a date",
    "date_day_32.csv": "2021-01-32",
    "date_empty.csv": "an empty date cell",
    "date_mixed_offsets_garbage.csv": "an impossible offset (+99:00)",
    "date_zone_name.csv": "a zone abbreviation (EST), which names no single offset",
    "event_id_duplicate.csv": "one event ID on two rows",
    "fatalities_inf.csv": "inf fatalities",
    "fatalities_negative.csv": "-3 fatalities",
    "fatalities_text.csv": "'many' fatalities",
    "fatalities_huge.csv": "1e300 fatalities",
    "fatalities_low_high_only.csv": "fatalities_low/high but no fatalities column",
    "header_duplicate_date.csv": "the date column twice",
    "missing_date_column.csv": "no date column",
    "missing_admin1_column.csv": "no province column (and no coordinates)",
    "nul_byte_late.csv": "a NUL byte inside an actor name past the first 4 KiB",
    "nul_byte_early.csv": "a NUL byte inside a province name",
    "delimiter_semicolon.csv": "semicolon-separated",
    "delimiter_tab.csv": "tab-separated",
    "utf16.csv": "UTF-16 with a byte-order mark",
    "utf16_no_bom.csv": "UTF-16 without a byte-order mark",
    "empty.csv": "0 bytes",
    "whitespace_only.csv": "blank lines only",
    "header_only.csv": "a header, no rows",
    "binary_png.csv": "an image named .csv",
    "unterminated_quote.csv": "a quote never closed",
    "ragged_row.csv": "a row with more fields than the header",
    "unknown_province.csv": "a province no gazetteer knows",
    "actor_redos.csv": "actor names on which ^(a|a)*$ backtracks for ever",
    "unknown_country.csv": "a country no gazetteer knows",
    "coordinates_out_of_range.csv": "latitude 134, longitude 270",
    "two_csvs.zip": "a zip archive holding two CSVs",
    "empty.zip": "a zip archive holding nothing",
    "not_a_zip.zip": "a CSV named .zip",
    "truncated.csv.gz": "a gzip cut short",
    "bomb.csv.gz": "a gzip unpacking to 1 MB (refused above FORECAST_MAX_DECOMPRESSED_BYTES, 64 KiB here)",
    "not_parquet.parquet": "garbage after a parquet magic number",
    "canonical_ok.parquet": "valid canonical events, for the option cases of `forecast panel`",
    "canonical_year_9999.parquet": "canonical events with one dated 9999 (microsecond dates)",
    "canonical_inf_fatalities.parquet": "canonical events with zoned dates and an infinite toll",
    "counts_huge.csv": "a count table with 1e300 events in a month",
    "counts_weekly_not_monday.csv": "weekly counts labelled by Tuesdays",
    "not_boundaries.csv": "an event CSV given as boundaries",
    "boundaries_broken.geojson": "GeoJSON cut short",
    "not_a_workbook.xlsx": "a CSV named .xlsx",
    "credentials.env": "a settings file holding a credential",
    "acled_semicolon.csv": "an ACLED export re-saved with semicolons",
    "acled_date_9999.csv": "an ACLED event in year 9999",
    "ucdp_date_0001.csv": "a UCDP event in year 1",
    "gtd_month_13.csv": "a GTD event in month 13",
    "counts_negative.csv": "a count table with a negative count",
    "counts_text.csv": "a count table with a word for a count",
    "spread_counts_text.csv": "surveillance counts with a word for a count",
    "spread_population_text.csv": "population fractions that are words",
    "spread_neighbourhood_text.csv": "a neighbourhood order that is a word",
    "spread_counts_t_backwards.csv": "a week index t running against the dates",
    "spread_counts_year_9999.csv": "surveillance counts dated in years 9999 and 1",
    "spread_counts_ok.csv": "valid surveillance counts, to pair with a bad companion file",
    "spread_neighbourhood_ok.csv": "a valid neighbourhood, to pair with a bad companion file",
    "config_utf16.yaml": "a parameter file in UTF-16",
    "config_billion_laughs.yaml": "nested YAML aliases expanding to 9^9 strings",
    "config_not_a_mapping.yaml": "a YAML list, not a mapping",
    "config_bad_syntax.yaml": "YAML that does not parse",
    "config_freq_daily.yaml": "freq: D",
    "config_alpha_text.yaml": "thresholds.alpha: foo",
    "config_as_of_9999.yaml": "as_of in year 9999",
    "config_synthetic_start_after_end.yaml": "synthetic.start after synthetic.end",
    "config_unknown_stronghold.yaml": "a stronghold no gazetteer knows",
    "config_unknown_country.yaml": "a country no gazetteer knows",
    "config_unknown_key.yaml": "a misspelt key (horizn)",
    "config_events_dotenv.yaml": "events_path pointing at a credentials file",
}


@dataclass(frozen=True)
class Case:
    """One command line that must be refused; ``env`` entries set (str) or unset (None) variables."""

    id: str
    argv: tuple[str, ...]
    env: dict[str, str | None] = field(default_factory=dict)


def _c(case_id: str, *argv: str, env: dict[str, str | None] | None = None) -> Case:
    return Case(case_id, tuple(argv), env or {})


def _reader_cases() -> list[Case]:
    """Each bad event file through the reader that its format goes to (ingest, or warn/predict/panel)."""
    csv_files = [name for name in CORPUS if name.endswith((".csv", ".zip", ".gz", ".xlsx", ".env"))
                 and not name.startswith(("acled_", "ucdp_", "gtd_", "counts_", "spread_", "not_boundaries", "bomb",
                                           "actor_"))]
    cases = [_c(f"ingest-csv-{name}", "ingest", "csv", f"bad/{name}", "--country", "AFG", "--out", "out/events.parquet")
             for name in csv_files]
    cases += [
        _c("ingest-csv-no-country-column", "ingest", "csv", "bad/unknown_country.csv", "--out", "out/e.parquet"),
        _c("ingest-acled-semicolon", "ingest", "acled", "bad/acled_semicolon.csv", "--out", "out/e.parquet"),
        _c("ingest-acled-year-9999", "ingest", "acled", "bad/acled_date_9999.csv", "--out", "out/e.parquet"),
        _c("ingest-acled-utf16", "ingest", "acled", "bad/utf16.csv", "--out", "out/e.parquet"),
        _c("ingest-ucdp-year-0001", "ingest", "ucdp", "bad/ucdp_date_0001.csv", "--out", "out/e.parquet"),
        _c("ingest-ucdp-generic-file", "ingest", "ucdp", "bad/date_year_0001.csv", "--out", "out/e.parquet"),
        _c("ingest-gtd-month-13", "ingest", "gtd", "bad/gtd_month_13.csv", "--out", "out/e.parquet"),
        _c("ingest-gtd-not-a-workbook", "ingest", "gtd", "bad/not_a_workbook.xlsx", "--out", "out/e.parquet"),
        _c("ingest-canonical-not-parquet", "ingest", "canonical", "bad/not_parquet.parquet", "--out", "out/e.parquet"),
        _c("ingest-canonical-a-csv", "ingest", "canonical", "bad/header_only.csv", "--out", "out/e.parquet"),
        _c("ingest-unknown-source", "ingest", "excel", "bad/header_only.csv", "--out", "out/e.parquet"),
        _c("ingest-missing-file", "ingest", "csv", "bad/no_such_file.csv", "--out", "out/e.parquet"),
        _c("ingest-a-folder", "ingest", "csv", "bad", "--out", "out/e.parquet"),
        _c("ingest-a-device", "ingest", "csv", "/dev/zero", "--country", "AFG", "--out", "out/e.parquet"),
        _c("ingest-dev-urandom", "ingest", "csv", "/dev/urandom", "--country", "AFG", "--out", "out/e.parquet"),
        _c("warn-canonical-not-parquet", "warn", "--source", "canonical", "--events", "bad/not_parquet.parquet"),
        _c("predict-counts-negative", "predict", "--source", "counts", "--events", "bad/counts_negative.csv",
           "--country", "AFG", "--horizon", "1", "--models", "zero"),
        _c("backtest-zip-two-csvs", "backtest", "--source", "csv", "--events", "bad/two_csvs.zip", "--models", "zero"),
        _c("warn-csv-year-9999", "warn", "--source", "csv", "--events", "bad/date_year_9999.csv", "--country", "AFG"),
        _c("warn-csv-impossible-offset", "warn", "--source", "csv", "--events", "bad/date_mixed_offsets_garbage.csv", "--country", "AFG"),
        _c("warn-csv-inf", "warn", "--source", "csv", "--events", "bad/fatalities_inf.csv", "--country", "AFG"),
        _c("warn-counts-negative", "warn", "--source", "counts", "--events", "bad/counts_negative.csv", "--country", "AFG"),
        _c("warn-counts-text", "warn", "--source", "counts", "--events", "bad/counts_text.csv", "--country", "AFG"),
        _c("warn-hdx-not-a-workbook", "warn", "--source", "hdx", "--events", "bad/not_a_workbook.xlsx", "--freq", "MS"),
        _c("predict-csv-year-0001", "predict", "--source", "csv", "--events", "bad/date_year_0001.csv",
           "--country", "AFG", "--horizon", "1", "--models", "zero"),
        _c("predict-csv-future", "predict", "--source", "csv", "--events", "bad/date_future_2060.csv",
           "--country", "AFG", "--horizon", "1", "--models", "zero"),
        _c("panel-not-parquet", "panel", "--events", "bad/not_parquet.parquet", "--out", "out/p.parquet"),
        _c("panel-year-9999", "panel", "--events", "bad/canonical_year_9999.parquet", "--out", "out/p.parquet"),
        _c("panel-inf-fatalities", "panel", "--events", "bad/canonical_inf_fatalities.parquet", "--out", "out/p.parquet"),
        _c("predict-canonical-year-9999", "predict", "--source", "canonical", "--events", "bad/canonical_year_9999.parquet",
           "--horizon", "1", "--models", "zero"),
        _c("warn-counts-huge", "warn", "--source", "counts", "--events", "bad/counts_huge.csv", "--country", "AFG",
           "--freq", "MS"),
        _c("warn-counts-not-mondays", "warn", "--source", "counts", "--events", "bad/counts_weekly_not_monday.csv",
           "--country", "AFG"),
        _c("panel-a-csv", "panel", "--events", "bad/date_year_9999.csv", "--out", "out/p.parquet"),
    ]
    cases.append(_c("ingest-csv-gzip-bomb", "ingest", "csv", "bad/bomb.csv.gz", "--country", "AFG", "--out",
                    "out/e.parquet", env={"FORECAST_MAX_DECOMPRESSED_BYTES": "65536"}))
    return cases


def _ingest_argument_cases() -> list[Case]:
    raw = "data/raw/csv/events.csv"
    ok = ("ingest", "csv", raw, "--country", "AFG")
    return [
        _c("ingest-out-equals-input", "ingest", "csv", raw, "--country", "AFG", "--out", raw),
        _c("ingest-out-equals-input-dotted", *ok, "--out", "data/raw/../raw/csv/events.csv"),
        _c("ingest-out-inside-raw", *ok, "--out", "data/raw/csv/events.parquet"),
        _c("ingest-out-a-folder", *ok, "--out", "bad"),
        _c("ingest-out-below-a-file", *ok, "--out", "bad/header_only.csv/events.parquet"),
        _c("ingest-out-empty", *ok, "--out", ""),
        _c("ingest-boundaries-a-csv", *ok, "--boundaries", "bad/not_boundaries.csv", "--out", "out/e.parquet"),
        _c("ingest-boundaries-broken", *ok, "--boundaries", "bad/boundaries_broken.geojson", "--out", "out/e.parquet"),
        _c("ingest-boundaries-a-folder", *ok, "--boundaries", "bad", "--out", "out/e.parquet"),
        _c("ingest-bad-regex", *ok, "--actor", "[ISKP", "--out", "out/e.parquet"),
        _c("ingest-regex-backtracks", "ingest", "csv", "bad/actor_redos.csv", "--country", "AFG",
           "--actor", "^(a|a)*$", "--out", "out/e.parquet"),
        _c("ingest-start-not-a-date", *ok, "--start", "soon", "--out", "out/e.parquet"),
        _c("ingest-start-year-0001", *ok, "--start", "0001-01-01", "--out", "out/e.parquet"),
        _c("ingest-start-after-end", *ok, "--start", "2022-01-01", "--end", "2021-01-01", "--out", "out/e.parquet"),
        _c("ingest-unknown-country", *ok[:3], "--country", "Atlantis", "--out", "out/e.parquet"),
        _c("ingest-columns-not-pairs", *ok, "--columns", "admin1", "--out", "out/e.parquet"),
        _c("ingest-columns-unknown-field", *ok, "--columns", "province=admin1", "--out", "out/e.parquet"),
        _c("ingest-columns-missing-column", *ok, "--columns", "admin1=Province", "--out", "out/e.parquet"),
        _c("ingest-aliases-not-pairs", *ok, "--aliases", "Nangahar", "--out", "out/e.parquet"),
        _c("ingest-aliases-unknown-target", *ok, "--aliases", "Nangahar=Atlantis", "--out", "out/e.parquet"),
        _c("ingest-unmatched-choice", *ok, "--unmatched", "ignore", "--out", "out/e.parquet"),
        _c("ingest-country-empty", *ok[:3], "--country", "", "--out", "out/e.parquet"),
        _c("ingest-columns-swapped", *ok, "--columns", "date=admin1,admin1=date", "--out", "out/e.parquet"),
        _c("ingest-gtd-an-acled-file", "ingest", "gtd", "bad/acled_date_9999.csv", "--out", "out/e.parquet"),
        _c("ingest-end-offset-impossible", *ok, "--end", "2021-12-26T22:00:00+99:00", "--out", "out/e.parquet"),
    ]


def _panel_argument_cases() -> list[Case]:
    panel = ("panel", "--events", "bad/canonical_ok.parquet")
    return [
        _c("panel-freq-daily", *panel, "--freq", "D", "--out", "out/p.parquet"),
        _c("panel-start-year-9999", *panel, "--start", "9999-01-01", "--out", "out/p.parquet"),
        _c("panel-start-word", *panel, "--start", "soon", "--out", "out/p.parquet"),
        _c("panel-start-after-end", *panel, "--start", "2021-12-01", "--end", "2021-01-01", "--out", "out/p.parquet"),
        _c("panel-unknown-country", *panel, "--country", "XXX", "--out", "out/p.parquet"),
        _c("panel-out-equals-events", *panel, "--out", "bad/canonical_ok.parquet"),
        _c("panel-out-inside-raw", *panel, "--out", "data/raw/panel.parquet"),
        _c("panel-out-a-folder", *panel, "--out", "bad"),
        _c("panel-default-out-missing-events", "panel", "--events", "bad/nope.parquet"),
    ]


def _forecast_argument_cases() -> list[Case]:
    synthetic = ("--source", "synthetic")
    predict = ("predict", *synthetic, "--models", "zero")
    backtest = ("backtest", "--models", "zero")
    unary = "-" * 100_000 + "1"
    return [
        _c("predict-seed-negative", *predict, "--horizon", "1", "--seed", "-1"),
        _c("predict-horizon-1000000", *predict, "--horizon", "1000000"),
        _c("predict-horizon-0", *predict, "--horizon", "0"),
        _c("predict-horizon-word", *predict, "--horizon", "eight"),
        _c("predict-n-draws-0", *predict, "--horizon", "1", "--n-draws", "0"),
        _c("predict-n-draws-billion", *predict, "--horizon", "1", "--n-draws", "1000000000"),
        _c("predict-draw-budget", *predict, "--horizon", "520", "--n-draws", "100000"),
        _c("predict-unknown-model", "predict", *synthetic, "--horizon", "1", "--models", "crystal_ball"),
        _c("predict-model-bad-option", "predict", *synthetic, "--horizon", "1", "--models", "glm_negbin(ar=-1)"),
        _c("predict-model-unary-minus", "predict", *synthetic, "--horizon", "1", "--models", f"glm_negbin(ar={unary})"),
        _c("predict-freq-daily", *predict, "--horizon", "1", "--freq", "D"),
        _c("predict-unknown-country", *predict, "--horizon", "1", "--country", "XXX"),
        _c("predict-as-of-9999", *predict, "--horizon", "1", "--as-of", "9999-12-31"),
        _c("predict-as-of-0001", *predict, "--horizon", "1", "--as-of", "0001-01-01"),
        _c("predict-as-of-1900", *predict, "--horizon", "1", "--as-of", "1900-01-01"),
        _c("predict-as-of-word", *predict, "--horizon", "1", "--as-of", "tomorrow"),
        _c("predict-unknown-source", "predict", "--source", "excel", "--events", "bad/header_only.csv",
           "--horizon", "1", "--models", "zero"),
        _c("predict-csv-without-events", "predict", "--source", "csv", "--horizon", "1", "--models", "zero"),
        _c("predict-synthetic-with-events", *predict, "--horizon", "1", "--events", "data/raw/csv/events.csv"),
        _c("predict-out-a-folder", *predict, "--horizon", "1", "--out", "bad"),
        _c("predict-out-below-a-file", *predict, "--horizon", "1", "--out", "bad/empty.csv/f.parquet"),
        _c("predict-out-inside-raw", *predict, "--horizon", "1", "--out", "data/raw/f.parquet"),
        _c("predict-out-equals-events", "predict", "--source", "csv", "--events", "data/raw/csv/events.csv",
           "--country", "AFG", "--horizon", "1", "--models", "zero", "--out", "data/raw/csv/events.csv"),
        _c("predict-events-a-folder", "predict", "--source", "csv", "--events", "bad", "--horizon", "1", "--models", "zero"),
        _c("predict-events-dotenv", "predict", "--source", "csv", "--events", "bad/credentials.env",
           "--horizon", "1", "--models", "zero"),
        _c("backtest-every-0", *backtest, "--every", "0"),
        _c("backtest-horizon-0", *backtest, "--horizon", "0"),
        _c("backtest-seed-negative", *backtest, "--seed", "-5"),
        _c("backtest-unknown-executor", *backtest, "--executor", "cloud"),
        _c("backtest-workers-0", *backtest, "--executor", "processes", "--workers", "0"),
        _c("backtest-start-not-a-date", *backtest, "--start", "soon"),
        _c("backtest-start-year-9999", *backtest, "--start", "9999-01-01"),
        _c("backtest-start-after-end", *backtest, "--start", "2021-06-07", "--end", "2020-01-06"),
        _c("backtest-out-a-folder", *backtest, "--out", "bad"),
        _c("backtest-out-inside-raw", *backtest, "--out", "data/raw/scores.parquet"),
        _c("backtest-unknown-model", "backtest", "--models", "crystal_ball"),
        _c("backtest-dask-unreachable", *backtest, "--executor", "dask", "--address", "tcp://127.0.0.1:9"),
        _c("backtest-address-unreachable", *backtest, "--address", "tcp://127.0.0.1:9"),
        _c("backtest-out-dir-a-file", *backtest, "--out-dir", "bad/empty.csv"),
        _c("predict-workers-0", *predict, "--horizon", "1", "--workers", "0"),
        _c("predict-address-unreachable", *predict, "--horizon", "1", "--address", "tcp://127.0.0.1:9"),
        _c("warn-freq-daily", "warn", "--freq", "D"),
        _c("warn-columns-missing-column", "warn", "--source", "csv", "--events", "data/raw/csv/events.csv",
           "--columns", "date=Datum"),
        _c("spread-attribute-freq-daily", "spread", "attribute", "--source", "synthetic", "--as-of", "2021-12-27",
           "--freq", "D"),
        _c("warn-as-of-9999", "warn", "--as-of", "9999-12-31"),
        _c("warn-as-of-0001", "warn", "--as-of", "0001-01-01"),
        _c("warn-unknown-stronghold", "warn", "--stronghold", "Atlantis"),
        _c("warn-unknown-country", "warn", "--country", "Atlantis"),
        _c("warn-bad-regex", "warn", "--actor", "(ISKP"),
        _c("warn-synthetic-with-events", "warn", "--events", "data/raw/csv/events.csv"),
        _c("backtest-synthetic-with-events", *backtest, "--events", "data/raw/csv/events.csv"),
        _c("spread-attribute-synthetic-with-events", "spread", "attribute", "--source", "synthetic", "--as-of",
           "2021-12-27", "--events", "data/raw/csv/events.csv"),
        _c("warn-columns-not-pairs", "warn", "--source", "csv", "--events", "data/raw/csv/events.csv", "--columns", "x"),
        _c("spread-attribute-periods-0", "spread", "attribute", "--source", "synthetic", "--as-of", "2021-12-27",
           "--periods", "0"),
        _c("spread-attribute-unknown-stronghold", "spread", "attribute", "--source", "synthetic", "--as-of",
           "2021-12-27", "--stronghold", "Atlantis"),
        _c("spread-attribute-as-of-word", "spread", "attribute", "--source", "synthetic", "--as-of", "later"),
        _c("spread-attribute-as-of-9999", "spread", "attribute", "--source", "synthetic", "--as-of", "9999-12-31"),
    ]


def _spread_fit_cases() -> list[Case]:
    fit = ("spread", "fit")
    good = ("--counts", "bad/spread_counts_ok.csv", "--neighbourhood", "bad/spread_neighbourhood_ok.csv")
    return [
        _c("spread-fit-counts-a-folder", *fit, "--counts", "bad", "--neighbourhood", "bad/spread_neighbourhood_ok.csv"),
        _c("spread-fit-counts-missing", *fit, "--counts", "bad/nope.csv", "--neighbourhood", "bad/spread_neighbourhood_ok.csv"),
        _c("spread-fit-counts-text", *fit, "--counts", "bad/spread_counts_text.csv", *good[2:]),
        _c("spread-fit-counts-t-backwards", *fit, "--counts", "bad/spread_counts_t_backwards.csv", *good[2:]),
        _c("spread-fit-counts-year-9999", *fit, "--counts", "bad/spread_counts_year_9999.csv", *good[2:]),
        _c("spread-fit-counts-utf16", *fit, "--counts", "bad/utf16.csv", *good[2:]),
        _c("spread-fit-counts-empty", *fit, "--counts", "bad/empty.csv", *good[2:]),
        _c("spread-fit-neighbourhood-text", *fit, *good[:2], "--neighbourhood", "bad/spread_neighbourhood_text.csv"),
        _c("spread-fit-neighbourhood-events", *fit, *good[:2], "--neighbourhood", "bad/header_only.csv"),
        _c("spread-fit-population-text", *fit, *good, "--population", "bad/spread_population_text.csv"),
        _c("spread-fit-population-a-folder", *fit, *good, "--population", "bad"),
        _c("spread-fit-weights", *fit, *good, "--weights", "powerlaw:x"),
        _c("spread-fit-season", *fit, *good, "--season", "weekly"),
        _c("spread-fit-family", *fit, *good, "--family", "gaussian"),
        _c("spread-fit-maxlag-0", *fit, *good, "--weights", "powerlaw:0"),
    ]


def _run_cases() -> list[Case]:
    run = ("run",)
    cases = [
        _c("run-freq-daily", *run, "-p", "freq=D"),
        _c("run-alpha-text", *run, "-p", "thresholds.alpha=foo"),
        _c("run-alpha-above-one", *run, "-p", "thresholds.alpha=2"),
        _c("run-unknown-threshold", *run, "-p", "thresholds.alfa=0.01"),
        _c("run-as-of-9999", *run, "-p", "as_of=9999-12-31"),
        _c("run-as-of-1900", *run, "-p", "as_of=1900-01-01"),
        _c("run-as-of-word", *run, "-p", "as_of=soon"),
        _c("run-synthetic-start-after-end", *run, "-p", "synthetic.start=2022-01-03"),
        _c("run-synthetic-seed-text", *run, "-p", "synthetic.seed=abc"),
        _c("run-unknown-stronghold", *run, "-p", "stronghold=Atlantis"),
        _c("run-unknown-country", *run, "-p", "country=Atlantis"),
        _c("run-horizon-1000000", *run, "-p", "horizon=1000000"),
        _c("run-horizon-text", *run, "-p", "horizon=eight"),
        _c("run-draws-do-not-fit", *run, "-p", "horizon=520", "-p", "n_draws=100000"),
        _c("run-n-draws-0", *run, "-p", "n_draws=0"),
        _c("run-backtest-every-0", *run, "-p", "backtest_every=0"),
        _c("run-backtest-draws-billion", *run, "-p", "backtest_draws=1000000000"),
        _c("run-backtest-start-9999", *run, "-p", "backtest_start=9999-01-01"),
        _c("run-backtest-start-after-the-data", *run, "-p", "backtest_start=2025-01-06"),
        _c("run-horizon-longer-than-the-data", *run, "-p", "horizon=400", "-p", "n_draws=10", "-p", "backtest_draws=10"),
        _c("run-stronghold-window-0", *run, "-p", "stronghold_window=0"),
        _c("run-recent-periods-negative", *run, "-p", "recent_periods=-4"),
        _c("run-synthetic-one-week", *run, "-p", "synthetic.start=2021-12-20"),
        _c("run-unknown-model", *run, "-p", "models=[crystal_ball]"),
        _c("run-unknown-key", *run, "-p", "horizn=8"),
        _c("run-override-not-pair", *run, "-p", "horizon"),
        _c("run-unknown-source", *run, "-p", "source=excel"),
        _c("run-csv-without-events", *run, "-p", "source=csv"),
        _c("run-events-dotenv", *run, "-p", "source=csv", "-p", "events_path=bad/credentials.env"),
        _c("run-events-missing", *run, "-p", "source=csv", "-p", "events_path=bad/nope.csv"),
        _c("run-events-year-9999", *run, "-p", "source=csv", "-p", "events_path=bad/date_year_9999.csv"),
        _c("run-bad-regex", *run, "-p", "actor=(ISKP"),
        _c("run-events-zip-two-csvs", *run, "-p", "source=csv", "-p", "events_path=bad/two_csvs.zip"),
        _c("run-events-gzip-bomb", *run, "-p", "source=csv", "-p", "events_path=bad/bomb.csv.gz",
           env={"FORECAST_MAX_DECOMPRESSED_BYTES": "65536"}),
        _c("run-boundaries-a-csv", *run, "-p", "boundaries_path=bad/not_boundaries.csv"),
        _c("run-boundaries-missing", *run, "-p", "boundaries_path=bad/nope.geojson"),
        _c("run-notebook-unknown", *run, "--notebooks", "99"),
        _c("run-fail-on-choice", *run, "--fail-on", "panic"),
        _c("run-reports-dir-a-file", *run, "--reports-dir", "bad/empty.csv"),
        _c("run-reports-dir-inside-raw", *run, "--reports-dir", "data/raw/reports"),
        _c("run-config-missing", *run, "--config", "bad/nope.yaml"),
        _c("run-config-a-folder", *run, "--config", "bad"),
    ]
    cases += [_c(f"run-config-{name.removeprefix('config_').removesuffix('.yaml')}", *run, "--config", f"bad/{name}")
              for name in CORPUS if name.startswith("config_")]
    return cases


def _other_verb_cases() -> list[Case]:
    dead = ("--timeout", "2", "--retries", "0")
    return [
        _c("schedule-cron-garbage", "schedule", "--cron", "every monday"),
        _c("schedule-cron-minute-61", "schedule", "--cron", "61 6 * * 1"),
        _c("schedule-param-freq-daily", "schedule", "--cron", "0 6 * * 1", "-p", "freq=D"),
        _c("schedule-config-utf16", "schedule", "--cron", "0 6 * * 1", "--config", "bad/config_utf16.yaml"),
        _c("runs-list-reports-dir-a-file", "runs", "list", "--reports-dir", "bad/empty.csv"),
        _c("runs-prune-keep-negative", "runs", "prune", "--keep", "-1", "--reports-dir", "reports"),
        _c("runs-prune-keep-word", "runs", "prune", "--keep", "all"),
        _c("ledger-list-reports-dir-a-file", "ledger", "list", "--reports-dir", "bad/empty.csv"),
        _c("ledger-rebuild-inside-raw", "ledger", "rebuild", "--reports-dir", "data/raw/reports"),
        _c("data-list-a-file", "data", "list", "--data-dir", "bad/empty.csv"),
        _c("fetch-boundaries-unknown-country", "fetch", "boundaries", "XXX", "--api-url", f"{DEAD}/{{iso3}}/{{level}}"),
        _c("fetch-boundaries-level-9", "fetch", "boundaries", "AFG", "--level", "9", "--api-url", f"{DEAD}/{{iso3}}/{{level}}"),
        _c("fetch-boundaries-raw-dir-a-file", "fetch", "boundaries", "AFG", "--raw-dir", "bad/empty.csv",
           "--api-url", f"{DEAD}/{{iso3}}/{{level}}"),
        _c("fetch-boundaries-offline", "fetch", "boundaries", "AFG", "--api-url", f"{DEAD}/{{iso3}}/{{level}}"),
        _c("fetch-ucdp-version-word", "fetch", "ucdp", "--version", "latest", *dead),
        _c("fetch-ucdp-candidate-month-13", "fetch", "ucdp", "--candidate", "2021-13", *dead),
        _c("fetch-ucdp-timeout-negative", "fetch", "ucdp", "--timeout", "-1"),
        _c("fetch-ucdp-retries-negative", "fetch", "ucdp", "--retries", "-1"),
        _c("fetch-ucdp-offline", "fetch", "ucdp", *dead),
        _c("fetch-acled-no-credentials", "fetch", "acled", "--country", "Afghanistan", *dead,
           env={"ACLED_EMAIL": None, "ACLED_PASSWORD": None}),
        _c("fetch-acled-page-size-0", "fetch", "acled", "--country", "Afghanistan", "--page-size", "0", *dead),
        _c("fetch-acled-start-after-end", "fetch", "acled", "--country", "Afghanistan", "--start", "2022-01-01",
           "--end", "2021-01-01", *dead),
        _c("fetch-acled-offline", "fetch", "acled", "--country", "Afghanistan", *dead),
        _c("fetch-hdx-unknown-topic", "fetch", "hdx", "--topic", "weather", *dead),
        _c("fetch-hdx-unknown-country", "fetch", "hdx", "--country", "Atlantis", *dead),
        _c("fetch-hdx-offline", "fetch", "hdx", *dead),
        _c("run-notebooks-empty", "run", "--notebooks", ""),
        _c("run-notebooks-dir-a-file", "run", "--notebooks-dir", "bad/empty.csv"),
        _c("run-notebooks-dir-without-notebooks", "run", "--notebooks-dir", "bad"),
        _c("schedule-reports-dir-a-file", "schedule", "--cron", "0 6 * * 1", "--reports-dir", "bad/empty.csv"),
        _c("schedule-config-billion-laughs", "schedule", "--cron", "0 6 * * 1", "--config", "bad/config_billion_laughs.yaml"),
        _c("runs-prune-keep-0", "runs", "prune", "--keep", "0"),
        _c("ledger-list-inside-raw", "ledger", "list", "--reports-dir", "data/raw/reports"),
        _c("data-list-a-device", "data", "list", "--data-dir", "/dev/null"),
        _c("fetch-ucdp-raw-dir-a-file", "fetch", "ucdp", "--raw-dir", "bad/empty.csv", *dead),
        _c("fetch-hdx-raw-dir-below-a-file", "fetch", "hdx", "--raw-dir", "bad/empty.csv/raw", *dead),
        _c("fetch-acled-start-word", "fetch", "acled", "--country", "Afghanistan", "--start", "soon", *dead),
        _c("fetch-acled-start-year-0001", "fetch", "acled", "--country", "Afghanistan", "--start", "0001-01-01", *dead),
        _c("unknown-command", "forecast-everything"),
        _c("unknown-option", "predict", "--password", SECRET),
    ]


def _http_cases() -> list[Case]:
    """Downloads from a local server (:func:`_hostile_server`) that answers what a provider should not."""
    quick = ("--timeout", "5", "--retries", "0")
    acled = ("fetch", "acled", "--country", "Afghanistan", *quick)
    return [
        _c("http-acled-login-echoes-the-form", *acled, "--base-url", "{http}/echo"),
        _c("http-acled-read-success-false", *acled, "--base-url", "{http}/refused"),
        _c("http-acled-login-401", *acled, "--base-url", "{http}/denied"),
        _c("http-acled-read-not-json", *acled, "--base-url", "{http}/garbled"),
        _c("http-ucdp-html-not-zip", "fetch", "ucdp", *quick, "--url-template", "{http}/html/ged{version_nodot}.zip"),
        _c("http-ucdp-zip-two-csvs", "fetch", "ucdp", *quick, "--url-template", "{http}/twocsv/ged{version_nodot}.zip"),
        _c("http-ucdp-server-error", "fetch", "ucdp", *quick, "--url-template", "{http}/error/ged{version_nodot}.zip"),
        _c("http-hdx-not-json", "fetch", "hdx", *quick, "--base-url", "{http}/html"),
        _c("http-hdx-success-false", "fetch", "hdx", *quick, "--base-url", "{http}/refused"),
        _c("http-boundaries-not-json", "fetch", "boundaries", "AFG", "--api-url", "{http}/html/{iso3}/{level}"),
    ]


CASES = [*_reader_cases(), *_ingest_argument_cases(), *_panel_argument_cases(), *_forecast_argument_cases(), *_spread_fit_cases(),
         *_run_cases(), *_other_verb_cases(), *_http_cases()]


# --- the harness ---------------------------------------------------------------------------------

_DRIVER = textwrap.dedent(
    """
    import importlib, json, os, signal, sys, time, traceback
    from forecast.cli import main
    for name in ("pandas", "pyarrow.parquet", "yaml", "forecast.data", "forecast.data.dataset",
                 "forecast.panel", "forecast.runner.run", "forecast.models.registry", "forecast.alarms",
                 "forecast.evaluation.backtest", "forecast.spread", "forecast.geo.gazetteer",
                 "forecast.data.providers", "forecast.data.synthetic"):
        importlib.import_module(name)  # imported once, before the forks
    jobs = json.load(open(sys.argv[1]))
    statuses = {}
    for job in jobs:
        sys.stdout.flush(); sys.stderr.flush()
        began = time.monotonic()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                signal.alarm(job["timeout"])  # a hanging case dies of SIGALRM
                os.chdir(job["cwd"])
                os.environ.clear(); os.environ.update(job["env"])
                null = os.open(os.devnull, os.O_RDONLY); os.dup2(null, 0)
                for fd, name in ((1, "stdout"), (2, "stderr")):
                    os.dup2(os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
                sys.argv = ["forecast", *job["argv"]]
                status = main(job["argv"])  # what `python -m forecast.cli` runs
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()  # as the interpreter would print it
                status = 1
            finally:
                try:
                    sys.stdout.flush(); sys.stderr.flush()
                finally:
                    os._exit(status if isinstance(status, int) else 1)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        statuses[job["id"]] = [status, round(time.monotonic() - began, 3)]
    json.dump(statuses, sys.stdout)
    """
)

_CORPUS_REF = re.compile(r"bad/([A-Za-z0-9_.]+)")


def _tree(folder: Path) -> dict[str, str]:
    """Every file and folder below ``folder``: relative path -> sha256 (``'dir'`` for folders)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        found[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _make_project(folder: Path) -> None:
    """A project folder the command recognises, with raw data and the corpus in it."""
    (folder / "config").mkdir(parents=True)
    shutil.copy2(REPO / "config" / "default.yaml", folder / "config" / "default.yaml")
    shutil.copytree(REPO / "notebooks", folder / "notebooks")
    (folder / "data" / "raw" / "csv").mkdir(parents=True)
    shutil.copy2(GENERIC, folder / "data" / "raw" / "csv" / "events.csv")
    shutil.copytree(BAD, folder / "bad")


def _environment(case: Case, home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ACLED_", "UCDP_", "FORECAST_", "PYTEST_", "HTTP", "http", "HTTPS", "https"))}
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
        "HOME": str(home),
        "MPLCONFIGDIR": str(home / "mpl"),
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "ACLED_EMAIL": EMAIL,
        "ACLED_PASSWORD": SECRET,
        "FORECAST_HTTP_RETRIES": "0",  # a dead server is refused at once, not after backoff
        "FORECAST_ACLED_BASE_URL": DEAD,
        "FORECAST_HDX_BASE_URL": DEAD,
        "FORECAST_UCDP_URL_TEMPLATE": DEAD + "/ged{version_nodot}-csv.zip",
        "FORECAST_UCDP_CANDIDATE_URL_TEMPLATE": DEAD + "/GEDEvent_v{yy}_0_{month}.csv",
    })
    for key, value in case.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _hostile_server():
    """A local server answering the downloads of :func:`_http_cases` with what no provider should send."""
    sys.path.insert(0, str(Path(__file__).parent / "data" / "http"))
    import fakeproviders as fake

    server = fake.FakeServer().start()
    token = json.loads(fake.ACLED_TOKEN.read_text(encoding="utf-8"))

    def echo(h, record):  # an error page quoting the login form: username=...&password=...
        fake.send(h, b"<html><body>Bad request: " + record.body + b"</body></html>", status=200,
                  headers={"Content-Type": "text/html"})

    def issue_token(h, record):
        fake.send_json(h, token)

    def refuse(h, record):  # echoes the bearer token and the e-mail
        fake.send_json(h, {"success": False, "error": f"token {token['access_token']} of {EMAIL} refused",
                           "messages": [record.headers.get("authorization", "")]})

    def deny(h, record):
        fake.send_json(h, {"error": "invalid_grant", "error_description": f"bad password for {EMAIL}"}, status=401)

    def garble(h, record):
        fake.send(h, b"\x00\xff not json " + record.headers.get("authorization", "").encode(), status=200)

    def html(h, record):
        fake.send(h, b"<!doctype html><title>Maintenance</title>", headers={"Content-Type": "text/html"})

    def error(h, record):
        fake.send(h, b"internal error", status=500)

    server.on("/echo/oauth/token", echo)
    for prefix in ("/refused", "/garbled"):
        server.on(f"{prefix}/oauth/token", issue_token)
    server.on("/refused/api/acled/read", refuse)
    server.on("/garbled/api/acled/read", garble)
    server.on("/denied/oauth/token", deny)
    server.on("/html/ged251.zip", html)
    server.on("/twocsv/ged251.zip", fake.serve_bytes(_two_member_zip(fake.GED_CSV.read_bytes())))
    server.on("/error/ged251.zip", error)
    server.on("/html/api/3/action/package_show", html)
    server.on("/refused/api/3/action/package_show", lambda h, r: fake.send_json(
        h, {"success": False, "error": {"message": f"Access denied for {EMAIL}", "__type": "Authorization Error"}}))
    server.on("/html/AFG/1", html)
    return server


def _two_member_zip(data: bytes) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("GEDEvent_v25_1.csv", data)
        archive.writestr("GEDEvent_v25_1_copy.csv", data)
    return buffer.getvalue()


@dataclass
class Outcome:
    status: int
    seconds: float
    stdout: str
    stderr: str
    before: dict[str, str]
    after: dict[str, str]


def _selected(session: pytest.Session) -> list[Case]:
    wanted = {item.callspec.params["case"].id for item in session.items
              if getattr(item, "originalname", None) == "test_hostile_input_is_refused" and hasattr(item, "callspec")}
    return [case for case in CASES if case.id in wanted]


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict[str, Outcome]:
    """Run every selected case (one driver process, a forked child per case) and record what it did."""
    root = tmp_path_factory.mktemp("hostile")
    home = root / "home"
    (home / "mpl").mkdir(parents=True)
    jobs, before = [], {}
    selected = _selected(request.session)
    server = _hostile_server() if any(case.id.startswith("http-") for case in selected) else None
    if server is not None:
        request.addfinalizer(server.stop)
    for number, case in enumerate(selected):
        project = root / f"p{number:03d}"
        _make_project(project)
        before[case.id] = _tree(project)
        logs = root / f"log{number:03d}"
        logs.mkdir()
        argv = [arg.replace("{http}", server.base) if server else arg for arg in case.argv]
        jobs.append({"id": case.id, "argv": argv, "cwd": str(project), "env": _environment(case, home),
                     "stdout": str(logs / "stdout"), "stderr": str(logs / "stderr"), "timeout": CASE_TIMEOUT,
                     "project": str(project)})
    statuses: dict[str, tuple[int, float]] = {}
    if os.environ.get("FORECAST_BAD_INPUTS_SPAWN") == "1":
        for job in jobs:
            began = time.monotonic()
            with open(job["stdout"], "w") as out, open(job["stderr"], "w") as err:
                done = subprocess.run([sys.executable, "-m", "forecast.cli", *job["argv"]], cwd=job["cwd"],
                                      env=job["env"], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                      timeout=CASE_TIMEOUT, check=False)
            statuses[job["id"]] = (done.returncode, time.monotonic() - began)
    elif jobs:
        plan = root / "jobs.json"
        plan.write_text(json.dumps(jobs))
        env = dict(jobs[0]["env"])
        driver = subprocess.run([sys.executable, "-c", _DRIVER, str(plan)], cwd=root, env=env,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=CASE_TIMEOUT * 4 + 2 * len(jobs), check=False)
        assert driver.returncode == 0, f"the driver failed: {driver.stderr[-3000:]}"
        statuses = json.loads(driver.stdout)
    return {
        job["id"]: Outcome(*statuses[job["id"]], Path(job["stdout"]).read_text(errors="replace"),
                           Path(job["stderr"]).read_text(errors="replace"), before[job["id"]],
                           _tree(Path(job["project"])))
        for job in jobs
    }


def test_the_corpus_is_described_and_large_enough():
    on_disk = {path.name for path in BAD.iterdir()}
    assert on_disk == set(CORPUS), f"undescribed: {sorted(on_disk - set(CORPUS))}; missing: {sorted(set(CORPUS) - on_disk)}"
    assert len(CASES) >= 60 and len({case.id for case in CASES}) == len(CASES)
    used = {name for case in CASES for arg in case.argv for name in _CORPUS_REF.findall(arg)}
    assert not set(CORPUS) - used
    verbs = {" ".join(case.argv[:2]) if case.argv[0] in {"spread", "runs", "ledger", "fetch", "data"} else case.argv[0]
             for case in CASES}
    for verb in ("ingest", "panel", "run", "schedule", "predict", "backtest", "warn", "runs list", "runs prune",
                 "ledger list", "ledger rebuild", "data list", "fetch boundaries", "fetch ucdp", "fetch acled",
                 "fetch hdx", "spread fit", "spread attribute"):
        assert verb in verbs, f"no hostile case for `forecast {verb}`"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input_is_refused(case, outcomes):
    done = outcomes[case.id]
    lines = done.stderr.splitlines()
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.status == 2, f"exit {done.status}; stderr: {done.stderr[-500:]!r}; stdout: {done.stdout[-300:]!r}"
    assert len(lines) == 1 and lines[0].strip(), f"stderr is not one line: {done.stderr[-800:]!r}"
    shown = done.stderr + done.stdout
    for secret in (SECRET, EMAIL, EMAIL.replace("@", "%40"), TOKEN):
        assert secret not in shown, f"a credential is shown: {shown[-500:]!r}"
    changed = sorted(key for key in done.before if done.after.get(key) != done.before[key])
    assert not changed, f"changed or removed: {changed}"
    created = sorted(set(done.after) - set(done.before))
    assert not created, f"written: {created}"
