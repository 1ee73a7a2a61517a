"""Boundaries: download through a local HTTP server, cache, load, schematic fallback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import box

from forecast.cli import main
from forecast.errors import DownloadError, InputError
from forecast.files import read_sidecar, sha256_file
from forecast.geo.boundaries import (
    CACHED,
    SCHEMATIC,
    SHIPPED,
    USER,
    boundary_cache_path,
    fetch_boundaries,
    load_boundaries,
    schematic_boundaries,
)
from forecast.geo.gazetteer import Gazetteer

# Three squares named as event data spell them (not as the gazetteer does), so
# loading them exercises the name matching too.
SQUARES = {"Nangarhar province": (70.0, 34.0), "Konar": (71.0, 35.0), "Kabul": (69.0, 34.5)}


def squares_geojson() -> bytes:
    features = [
        {
            "type": "Feature",
            "properties": {"shapeName": name, "shapeType": "ADM1"},
            "geometry": shapely.geometry.mapping(box(x, y, x + 0.5, y + 0.5)),
        }
        for name, (x, y) in SQUARES.items()
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


@dataclass
class GeoServer:
    """A local stand-in for the geoBoundaries API and its file host."""

    base: str
    routes: dict[str, tuple[int, bytes]]
    requests: list[str] = field(default_factory=list)

    @property
    def api_template(self) -> str:
        return self.base + "/api/gbOpen/{iso3}/ADM{level}/"


@pytest.fixture
def geo_server() -> Iterator[GeoServer]:
    server_state: dict[str, GeoServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            state = server_state["server"]
            state.requests.append(self.path)
            status, body = state.routes.get(self.path, (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    api = {
        "boundaryID": "AFG-ADM1-test",
        "boundaryLicense": "Public Domain",
        "simplifiedGeometryGeoJSON": base + "/files/AFG_ADM1_simplified.geojson",
        "gjDownloadURL": base + "/files/AFG_ADM1_full.geojson",
    }
    server = GeoServer(
        base,
        {
            "/api/gbOpen/AFG/ADM1/": (200, json.dumps(api).encode()),
            "/files/AFG_ADM1_simplified.geojson": (200, squares_geojson()),
        },
    )
    server_state["server"] = server
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load("AFG")


# ---------------------------------------------------------------------------- download


def test_fetch_downloads_simplified_geojson_with_sidecar(
    geo_server: GeoServer, tmp_path: Path
) -> None:
    fetched = fetch_boundaries("afg", 1, raw_dir=tmp_path, api_url_template=geo_server.api_template)

    assert fetched.path == tmp_path / "boundaries" / "AFG_ADM1.geojson"
    assert fetched.path.read_bytes() == squares_geojson()
    assert not fetched.from_cache
    assert geo_server.requests == ["/api/gbOpen/AFG/ADM1/", "/files/AFG_ADM1_simplified.geojson"]
    meta = read_sidecar(fetched.path)
    assert meta is not None
    assert meta["sha256"] == sha256_file(fetched.path) == fetched.sha256
    assert meta["url"] == geo_server.base + "/files/AFG_ADM1_simplified.geojson"
    assert meta["api_url"] == geo_server.base + "/api/gbOpen/AFG/ADM1/"
    assert meta["licence"] == "Public Domain"
    assert "geoBoundaries" in meta["source"]
    assert meta["downloaded"] and meta["features"] == 3
    # Written through a temporary name: nothing else is left in the folder.
    assert sorted(p.name for p in fetched.path.parent.iterdir()) == [
        "AFG_ADM1.geojson",
        "AFG_ADM1.geojson.meta.json",
    ]


def test_second_fetch_uses_the_cache_without_a_request(
    geo_server: GeoServer, tmp_path: Path
) -> None:
    first = fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template)
    before = len(geo_server.requests)

    second = fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template)

    assert len(geo_server.requests) == before == 2
    assert second.from_cache and second.path == first.path and second.sha256 == first.sha256
    assert second.url == first.url


def test_force_downloads_again(geo_server: GeoServer, tmp_path: Path) -> None:
    fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template)
    again = fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template, force=True)
    assert not again.from_cache
    assert len(geo_server.requests) == 4


def test_cached_file_changed_after_download_is_refused(
    geo_server: GeoServer, tmp_path: Path
) -> None:
    fetched = fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template)
    fetched.path.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(DownloadError, match="sha256.*--force"):
        fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template)


def test_falls_back_to_the_full_geojson_url(geo_server: GeoServer, tmp_path: Path) -> None:
    api = {"gjDownloadURL": geo_server.base + "/files/full.geojson"}
    geo_server.routes["/api/gbOpen/AFG/ADM1/"] = (
        200,
        json.dumps([api]).encode(),
    )  # a list, as for ALL
    geo_server.routes["/files/full.geojson"] = (200, squares_geojson())
    fetched = fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template)
    assert fetched.url.endswith("/files/full.geojson")


@pytest.mark.parametrize("status", [404, 403])
def test_http_client_error_names_the_url_and_is_not_retried(
    geo_server: GeoServer, tmp_path: Path, status: int
) -> None:
    geo_server.routes["/api/gbOpen/AFG/ADM1/"] = (status, b"nope")
    with pytest.raises(DownloadError) as caught:
        fetch_boundaries(
            "AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template, retries=3, backoff=0
        )
    message = str(caught.value)
    assert geo_server.base + "/api/gbOpen/AFG/ADM1/" in message
    assert f"HTTP {status}" in message and "--boundaries PATH" in message and "\n" not in message
    assert len(geo_server.requests) == 1
    assert not boundary_cache_path("AFG", 1, tmp_path).exists()


def test_http_server_error_is_retried_then_reported(geo_server: GeoServer, tmp_path: Path) -> None:
    geo_server.routes["/files/AFG_ADM1_simplified.geojson"] = (500, b"boom")
    with pytest.raises(DownloadError, match=r"AFG_ADM1_simplified\.geojson: HTTP 500"):
        fetch_boundaries(
            "AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template, retries=3, backoff=0
        )
    assert geo_server.requests.count("/files/AFG_ADM1_simplified.geojson") == 3
    assert not boundary_cache_path("AFG", 1, tmp_path).exists()


def test_offline_names_the_url_and_what_to_do(tmp_path: Path) -> None:
    # Port 9 (discard) on localhost: nothing listens, the connection is refused at once.
    with pytest.raises(DownloadError, match=r"http://127\.0\.0\.1:9/AFG/1.*cannot connect.*by hand"):
        fetch_boundaries(
            "AFG", raw_dir=tmp_path, api_url_template="http://127.0.0.1:9/{iso3}/{level}", retries=1
        )


def test_api_answer_without_a_file_url_is_an_error(geo_server: GeoServer, tmp_path: Path) -> None:
    geo_server.routes["/api/gbOpen/AFG/ADM1/"] = (200, b'{"boundaryID": "x"}')
    with pytest.raises(DownloadError, match="simplifiedGeometryGeoJSON"):
        fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template)


def test_a_file_that_is_not_geojson_is_not_kept(geo_server: GeoServer, tmp_path: Path) -> None:
    geo_server.routes["/files/AFG_ADM1_simplified.geojson"] = (200, b"<html>maintenance</html>")
    with pytest.raises(DownloadError, match="did not return GeoJSON"):
        fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template)
    assert not boundary_cache_path("AFG", 1, tmp_path).exists()


# ---------------------------------------------------------------------------- CLI


def test_cli_fetch_boundaries_then_cached(
    geo_server: GeoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "fetch",
        "boundaries",
        "AFG",
        "--raw-dir",
        str(tmp_path),
        "--api-url",
        geo_server.api_template,
    ]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "AFG_ADM1.geojson" in first and "downloaded from" in first and "sha256" in first

    assert main(argv) == 0
    assert "cached, no request made" in capsys.readouterr().out
    assert len(geo_server.requests) == 2


def test_cli_fetch_error_exits_2_with_one_line(
    geo_server: GeoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    geo_server.routes["/api/gbOpen/AFG/ADM1/"] = (404, b"")
    argv = [
        "fetch",
        "boundaries",
        "AFG",
        "--raw-dir",
        str(tmp_path),
        "--api-url",
        geo_server.api_template,
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert geo_server.base + "/api/gbOpen/AFG/ADM1/" in err and "HTTP 404" in err


# ---------------------------------------------------------------------------- load


def test_load_prefers_the_cache_after_a_fetch(
    geo_server: GeoServer, tmp_path: Path, gaz: Gazetteer
) -> None:
    fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template)
    frame, kind = load_boundaries("AFG", raw_dir=tmp_path, gazetteer=gaz)
    assert kind == CACHED == frame.attrs["boundary_kind"]
    assert "geoBoundaries" in frame.attrs["boundary_source"]
    assert frame["unit_id"].tolist() == ["AF-KAB", "AF-KNR", "AF-NAN"]
    assert list(frame.columns) == ["unit_id", "geometry"]
    assert frame.crs.to_epsg() == 4326


def test_load_without_anything_uses_the_shipped_geometry(tmp_path: Path, gaz: Gazetteer) -> None:
    frame, kind = load_boundaries("AFG", raw_dir=tmp_path / "empty", gazetteer=gaz)
    assert kind == SHIPPED == frame.attrs["boundary_kind"]
    assert "geoBoundaries" in frame.attrs["boundary_source"]
    assert frame["unit_id"].tolist() == gaz.unit_ids
    assert frame.geometry.is_valid.all() and set(frame.geom_type) <= {"Polygon", "MultiPolygon"}
    # Simplified as a coverage: neighbours share borders, so areas add up to the union's.
    geometries = frame.geometry.to_numpy()
    assert shapely.area(geometries).sum() == pytest.approx(
        shapely.union_all(geometries).area, rel=1e-6
    )
    # The gazetteer's interior points (>= 0.05 deg inside the full-resolution
    # borders) stay inside the simplified ones (tolerance 0.01 deg).
    shape_of = frame.set_index("unit_id").geometry
    points = gaz.points
    inside = [
        shape_of[u].contains(shapely.Point(x, y))
        for u, x, y in zip(points["unit_id"], points["longitude"], points["latitude"], strict=True)
    ]
    assert len(inside) == 850 and all(inside)


def test_load_without_anything_falls_back_to_the_schematic_without_shipped_geometry(
    tmp_path: Path, gaz: Gazetteer
) -> None:
    # The AFG tables under another country code stand in for a country with no shipped geometry.
    other = Gazetteer("TJK", gaz.units, gaz.aliases.drop(columns="key"), gaz.adjacency, gaz.points)
    frame, kind = load_boundaries("TJK", raw_dir=tmp_path / "empty", gazetteer=other)
    assert kind == SCHEMATIC == frame.attrs["boundary_kind"]
    assert frame["unit_id"].tolist() == gaz.unit_ids


def test_gazetteer_script_reproduces_the_shipped_files(tmp_path: Path, shared_data: Path) -> None:
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("build_gazetteer", root / "scripts" / "build_gazetteer.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(shared_data / "afghanistan"), "--out", str(tmp_path)]) == 0
    tables = root / "src" / "forecast" / "geo" / "tables"
    built = sorted(p.name for p in tmp_path.iterdir())
    assert "AFG_provinces_simplified.geojson" in built and len(built) == 5
    for name in built:
        assert (tmp_path / name).read_bytes() == (tables / name).read_bytes(), name
    assert (tables / "AFG_provinces_simplified.geojson").stat().st_size <= 250_000


def test_schematic_cells_hold_their_centroids_and_tile_without_overlap(gaz: Gazetteer) -> None:
    cells = schematic_boundaries(gaz)
    assert len(cells) == 34 and cells.geometry.is_valid.all()
    assert set(cells.geom_type) == {"Polygon"}
    centroids = gaz.units.set_index("unit_id").loc[cells["unit_id"]]
    points = shapely.points(centroids["longitude"].to_numpy(), centroids["latitude"].to_numpy())
    assert shapely.contains(cells.geometry.to_numpy(), points).all()
    # Areas in square degrees are fine here: only their sum against the union's matters.
    areas = shapely.area(cells.geometry.to_numpy()).sum()
    assert areas == pytest.approx(shapely.union_all(cells.geometry.to_numpy()).area, rel=1e-6)


def test_user_file_overrides_the_cache(
    geo_server: GeoServer, tmp_path: Path, gaz: Gazetteer, shared_data: Path
) -> None:
    fetch_boundaries("AFG", raw_dir=tmp_path, api_url_template=geo_server.api_template)
    path = shared_data / "afghanistan" / "provinces_adm1.geojson"
    frame, kind = load_boundaries("AFG", path=path, raw_dir=tmp_path, gazetteer=gaz)
    assert kind == USER == frame.attrs["boundary_kind"]
    assert frame["unit_id"].tolist() == gaz.unit_ids
    assert frame.geometry.is_valid.all()
    # Kabul's real outline contains the city.
    kabul = frame.set_index("unit_id").geometry["AF-KAB"]
    assert kabul.contains(shapely.Point(69.17, 34.53))


def test_user_shapefile_in_another_crs_is_reprojected(tmp_path: Path, gaz: Gazetteer) -> None:
    squares = gpd.read_file(squares_geojson().decode()).set_crs(4326).to_crs(3857)
    path = tmp_path / "squares.shp"
    squares.to_file(path)
    frame, kind = load_boundaries("AFG", path=path, raw_dir=tmp_path, gazetteer=gaz)
    assert kind == USER
    assert frame.crs.to_epsg() == 4326
    bounds = frame.set_index("unit_id").geometry["AF-NAN"].bounds
    assert bounds == pytest.approx((70.0, 34.0, 70.5, 34.5), abs=1e-6)


def test_user_file_with_a_chosen_column(tmp_path: Path, gaz: Gazetteer) -> None:
    path = tmp_path / "squares.geojson"
    path.write_bytes(squares_geojson())
    frame, _ = load_boundaries("AFG", path=path, gazetteer=gaz, column="shapeName")
    assert len(frame) == 3


def test_missing_or_unreadable_user_file_is_an_input_error(tmp_path: Path, gaz: Gazetteer) -> None:
    with pytest.raises(InputError, match="boundary file not found"):
        load_boundaries("AFG", path=tmp_path / "nope.geojson", gazetteer=gaz)
    junk = tmp_path / "junk.geojson"
    junk.write_text("this is not geojson")
    with pytest.raises(InputError, match="junk.geojson: cannot read"):
        load_boundaries("AFG", path=junk, gazetteer=gaz)


def test_user_file_with_unknown_names_says_which(tmp_path: Path, gaz: Gazetteer) -> None:
    frame = gpd.GeoDataFrame({"province": ["Atlantis"]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    path = tmp_path / "bad.geojson"
    frame.to_file(path)
    with pytest.raises(InputError, match="Atlantis"):
        load_boundaries("AFG", path=path, gazetteer=gaz, column="province")


def test_unknown_country_code_fails_before_any_request(tmp_path):
    from forecast.errors import ParameterError
    from forecast.geo.boundaries import fetch_boundaries

    with pytest.raises(ParameterError, match="'XYZ' is not an ISO 3166-1 alpha-3"):
        fetch_boundaries("XYZ", raw_dir=tmp_path, api_url_template="http://127.0.0.1:9/{iso3}/{level}")
