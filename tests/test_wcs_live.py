"""WCS 2.0.1 against real clients (GDAL's WCS driver, OWSLib) and the conformance
checks, on a renderer-less /wcs served on loopback over small generated COGs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
from owslib.wcs import WebCoverageService
from rasterio.io import MemoryFile
from rasterio.windows import Window

from conformance.wcs import WCS_CHECKS, validate_xml
from ogcsdl.catalogue.factory import product_store
from tests.view_fixtures import ViewServices, make_s1_product, make_s2_product, start_view_services

pytestmark = pytest.mark.live
OGC = "http://schemas.opengis.net/"
T_A = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
T_B = datetime(2024, 6, 6, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewServices]:
    directory = tmp_path_factory.mktemp("wcs")
    records = [
        make_s2_product(directory / "src", "s2-wcs-a", seed=3, start=T_A),
        make_s2_product(directory / "src", "s2-wcs-b", seed=4, start=T_B, offset=(-1000, 400)),
        make_s1_product(directory / "src", "s1-wcs-a"),
    ]
    services = start_view_services(directory, records)
    yield services
    services.close()


@pytest.fixture(scope="module")
def wcs_url(view: ViewServices) -> str:
    return f"{view.base_url}/wcs"


def _get(url: str, **params: str) -> requests.Response:
    return requests.get(url, params={"SERVICE": "WCS", "VERSION": "2.0.1", **params}, timeout=60)


def _tiff(response: requests.Response) -> tuple[np.ndarray, rasterio.Affine, str]:
    assert response.status_code == 200, response.text[:500]
    with MemoryFile(response.content) as memory, memory.open() as dataset:
        return dataset.read(), dataset.transform, dataset.crs.to_string()


def _source(view: ViewServices, identifier: str) -> str:
    return product_store(view.settings).get(identifier).file_path


@pytest.mark.parametrize("check", WCS_CHECKS, ids=lambda check: check.__name__)
def test_conformance(wcs_url: str, check) -> None:  # type: ignore[no-untyped-def]
    passed, reason = check(wcs_url, requests.Session())
    assert passed, reason


def test_gdal_lists_coverages_and_subset_equals_rasterio_window(
    view: ViewServices, wcs_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}  # GDAL's WCS cache goes under $HOME
    listing = subprocess.run(
        ["gdalinfo", f"WCS:{wcs_url}?version=2.0.1"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "coverage=s2-wcs-a" in listing and "coverage=s1-wcs-a" in listing
    out = tmp_path / "subset.tif"
    subprocess.run(
        [
            "gdal_translate",
            "-q",
            "-srcwin",
            "37",
            "51",
            "120",
            "90",
            f"WCS:{wcs_url}?version=2.0.1&coverage=s2-wcs-a",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    window = Window(37, 51, 120, 90)
    with rasterio.open(out) as got, rasterio.open(_source(view, "s2-wcs-a")) as source:
        expected = source.read(window=window)
        assert got.read().shape == expected.shape
        assert np.array_equal(got.read(), expected)
        assert got.transform.almost_equals(source.window_transform(window))


def test_owslib_lists_and_gets_a_trimmed_coverage(view: ViewServices, wcs_url: str) -> None:
    service = WebCoverageService(wcs_url, version="2.0.1")
    assert {"s2-wcs-a", "s1-wcs-a"} <= set(service.contents)
    response = service.getCoverage(
        identifier="s1-wcs-a",
        format="image/tiff",
        subsets=[("E", 600000, 601000), ("N", 6579000, 6580000)],
    )
    with MemoryFile(response.read()) as memory, memory.open() as dataset:
        assert (dataset.width, dataset.height) == (50, 50)
        assert dataset.count == 2


def test_lat_long_subsetting_crs_and_output_crs(wcs_url: str) -> None:
    crs = "http://www.opengis.net/def/crs/EPSG/0/4326"
    response = requests.get(
        wcs_url,
        params=[
            ("SERVICE", "WCS"),
            ("VERSION", "2.0.1"),
            ("REQUEST", "GetCoverage"),
            ("COVERAGEID", "s2-wcs-a"),
            ("SUBSETTINGCRS", crs),
            ("OUTPUTCRS", crs),
            ("SUBSET", "Lat(59.30,59.33)"),
            ("SUBSET", "Long(16.77,16.83)"),
        ],
        timeout=60,
    )
    data, transform, crs_name = _tiff(response)
    assert crs_name == "EPSG:4326"
    assert transform.c == pytest.approx(16.77, abs=1e-6)
    assert transform.f == pytest.approx(59.33, abs=1e-6)
    assert data.shape[0] == 6 and data.max() > 0
    wrong = requests.get(
        wcs_url,
        params=[
            ("SERVICE", "WCS"),
            ("VERSION", "2.0.1"),
            ("REQUEST", "GetCoverage"),
            ("COVERAGEID", "s2-wcs-a"),
            ("SUBSETTINGCRS", crs),
            ("SUBSET", "E(600000,601000)"),
        ],
        timeout=60,
    )
    assert wrong.status_code == 404 and b"InvalidAxisLabel" in wrong.content


@pytest.mark.parametrize(
    ("param", "value", "shape"),
    [
        ("SCALEFACTOR", "2", (128, 128)),
        ("SCALESIZE", "E(64),N(32)", (32, 64)),
        ("SCALEEXTENT", "E(0:99),N(0:49)", (50, 100)),
        ("SCALEAXES", "E(4),N(2)", (128, 64)),
    ],
)
def test_scaling(wcs_url: str, param: str, value: str, shape: tuple[int, int]) -> None:
    data, _, _ = _tiff(
        _get(wcs_url, REQUEST="GetCoverage", COVERAGEID="s2-wcs-a", **{param: value})
    )
    assert data.shape[1:] == shape


def test_range_subset_by_band_name(view: ViewServices, wcs_url: str) -> None:
    data, _, _ = _tiff(
        _get(wcs_url, REQUEST="GetCoverage", COVERAGEID="s2-wcs-a", RANGESUBSET="B08,B02:B03")
    )
    with rasterio.open(_source(view, "s2-wcs-a")) as source:
        assert np.array_equal(data, source.read([4, 1, 2]))
    missing = _get(wcs_url, REQUEST="GetCoverage", COVERAGEID="s2-wcs-a", RANGESUBSET="B99")
    assert missing.status_code == 404 and b"NoSuchField" in missing.content


def test_slice_gives_one_column(view: ViewServices, wcs_url: str) -> None:
    data, transform, _ = _tiff(
        _get(wcs_url, REQUEST="GetCoverage", COVERAGEID="s2-wcs-a", SUBSET="E(600105)")
    )
    with rasterio.open(_source(view, "s2-wcs-a")) as source:
        assert np.array_equal(data, source.read(window=Window(5, 0, 1, 256)))
    assert transform.c == 600100


def test_netcdf_and_png_formats(view: ViewServices, wcs_url: str, tmp_path: Path) -> None:
    netcdf = _get(
        wcs_url, REQUEST="GetCoverage", COVERAGEID="s1-wcs-a", FORMAT="application/netcdf"
    )
    assert netcdf.status_code == 200 and netcdf.content[:3] in (b"CDF", b"\x89HD")
    path = tmp_path / "c.nc"
    path.write_bytes(netcdf.content)
    with (
        rasterio.open(f"netcdf:{path}:VH") as dataset,
        rasterio.open(_source(view, "s1-wcs-a")) as source,
    ):
        assert dataset.crs.to_epsg() == 32633
        assert np.allclose(dataset.read(1), source.read(2))
    png = _get(
        wcs_url,
        REQUEST="GetCoverage",
        COVERAGEID="s2-wcs-a",
        FORMAT="image/png",
        RANGESUBSET="B04,B03,B02",
    )
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    with MemoryFile(png.content) as memory, memory.open() as dataset:
        assert dataset.count == 3 and dataset.dtypes[0] == "uint16"
    float_png = _get(wcs_url, REQUEST="GetCoverage", COVERAGEID="s1-wcs-a", FORMAT="image/png")
    assert float_png.status_code == 415
    unknown = _get(wcs_url, REQUEST="GetCoverage", COVERAGEID="s1-wcs-a", FORMAT="text/csv")
    assert unknown.status_code == 415


def test_too_large_request_is_refused(tmp_path: Path) -> None:
    records = [make_s2_product(tmp_path / "src", "s2-big", seed=1)]
    services = start_view_services(tmp_path, records)
    try:
        services.settings.wcs.max_pixels = 1000  # the app reads its limits per request
        response = _get(f"{services.base_url}/wcs", REQUEST="GetCoverage", COVERAGEID="s2-big")
        assert response.status_code == 413
        assert b"limit" in response.content and b"ExceptionReport" in response.content
        small = _get(
            f"{services.base_url}/wcs",
            REQUEST="GetCoverage",
            COVERAGEID="s2-big",
            SCALESIZE="E(20),N(20)",
        )
        assert small.status_code == 200
    finally:
        services.close()


def test_xml_post_equals_kvp(wcs_url: str) -> None:
    body = b"""<?xml version="1.0"?>
<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0"
    xmlns:scal="http://www.opengis.net/wcs/scaling/1.0" service="WCS" version="2.0.1">
  <wcs:Extension><scal:ScaleByFactor><scal:scaleFactor>2</scal:scaleFactor></scal:ScaleByFactor>
  </wcs:Extension>
  <wcs:CoverageId>s2-wcs-a</wcs:CoverageId>
  <wcs:DimensionTrim><wcs:Dimension>E</wcs:Dimension>
    <wcs:TrimLow>600400</wcs:TrimLow><wcs:TrimHigh>602000</wcs:TrimHigh></wcs:DimensionTrim>
  <wcs:DimensionTrim><wcs:Dimension>N</wcs:Dimension>
    <wcs:TrimLow>6576000</wcs:TrimLow><wcs:TrimHigh>6579000</wcs:TrimHigh></wcs:DimensionTrim>
  <wcs:format>image/tiff</wcs:format>
</wcs:GetCoverage>"""
    valid, reason = validate_xml(body, OGC + "wcs/2.0/wcsAll.xsd")
    assert valid, reason
    posted = requests.post(
        wcs_url, data=body, headers={"Content-Type": "application/xml"}, timeout=60
    )
    kvp = requests.get(
        wcs_url,
        params=[
            ("SERVICE", "WCS"),
            ("VERSION", "2.0.1"),
            ("REQUEST", "GetCoverage"),
            ("COVERAGEID", "s2-wcs-a"),
            ("SCALEFACTOR", "2"),
            ("SUBSET", "E(600400,602000)"),
            ("SUBSET", "N(6576000,6579000)"),
        ],
        timeout=60,
    )
    post_data, _, _ = _tiff(posted)
    kvp_data, _, _ = _tiff(kvp)
    assert post_data.shape == (6, 75, 40)
    assert np.array_equal(post_data, kvp_data)


def test_xml_entities_are_not_expanded(wcs_url: str) -> None:
    body = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<wcs:DescribeCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS" version="2.0.1">
  <wcs:CoverageId>&secret;</wcs:CoverageId>
</wcs:DescribeCoverage>"""
    response = requests.post(wcs_url, data=body, timeout=60)
    assert 400 <= response.status_code < 500
    assert b"root:" not in response.content


def test_exception_report_is_schema_valid(wcs_url: str) -> None:
    response = _get(wcs_url, REQUEST="DescribeCoverage", COVERAGEID="nope")
    valid, reason = validate_xml(response.content, OGC + "ows/2.0/owsExceptionReport.xsd")
    assert valid, reason


def test_new_product_is_a_coverage_without_restart(view: ViewServices, wcs_url: str) -> None:
    store = product_store(view.settings)
    record = make_s2_product(
        view.settings.cog_dir, "s2-wcs-late", start=datetime(2024, 7, 1, tzinfo=UTC), seed=9
    )
    store.upsert(record)
    described = _get(wcs_url, REQUEST="DescribeCoverage", COVERAGEID="s2-wcs-late")
    assert described.status_code == 200
    valid, reason = validate_xml(described.content, OGC + "wcs/2.0/wcsAll.xsd")
    assert valid, reason
    store.delete("s2-wcs-late")
    assert _get(wcs_url, REQUEST="DescribeCoverage", COVERAGEID="s2-wcs-late").status_code == 404


def test_time_series_coverage_describe_slice_and_trim(
    view: ViewServices, wcs_url: str, tmp_path: Path
) -> None:
    described = _get(wcs_url, REQUEST="DescribeCoverage", COVERAGEID="sentinel-2-l2a")
    assert described.status_code == 200
    valid, reason = validate_xml(described.content, OGC + "wcs/2.0/wcsAll.xsd")
    assert valid, reason
    assert b'axisLabels="E N time"' in described.content
    assert b"2024-06-06T10:00:00Z" in described.content
    # A slice on an instant is that product, on the series grid (union of both footprints).
    sliced = requests.get(
        wcs_url,
        params=[
            ("SERVICE", "WCS"),
            ("VERSION", "2.0.1"),
            ("REQUEST", "GetCoverage"),
            ("COVERAGEID", "sentinel-2-l2a"),
            ("SUBSET", 'time("2024-06-01T10:00:00Z")'),
            ("SUBSET", "E(600000,602000)"),
            ("SUBSET", "N(6578000,6580000)"),
        ],
        timeout=60,
    )
    data, transform, _ = _tiff(sliced)
    with rasterio.open(_source(view, "s2-wcs-a")) as source:
        assert np.array_equal(data, source.read(window=Window(0, 0, 100, 100)))
    assert transform.c == 600000 and transform.f == 6580000
    # A trim over both instants gives a NetCDF with a time dimension of 2.
    trimmed = _get(
        wcs_url,
        REQUEST="GetCoverage",
        COVERAGEID="sentinel-2-l2a",
        SUBSET="time(2024-05-01T00:00:00Z,2024-07-01T00:00:00Z)",
        FORMAT="application/netcdf",
        RANGESUBSET="B04",
    )
    assert trimmed.status_code == 200
    path = tmp_path / "series.nc"
    path.write_bytes(trimmed.content)
    import netCDF4

    with netCDF4.Dataset(path) as dataset:
        assert dataset.dimensions["time"].size == 2
        assert dataset.variables["B04"].shape[0] == 2
    empty = _get(
        wcs_url,
        REQUEST="GetCoverage",
        COVERAGEID="sentinel-2-l2a",
        SUBSET="time(2020-01-01T00:00:00Z,2020-02-01T00:00:00Z)",
    )
    assert empty.status_code == 404 and b"InvalidSubsetting" in empty.content
    bad = _get(wcs_url, REQUEST="GetCoverage", COVERAGEID="sentinel-2-l2a", SUBSET="time(soon)")
    assert bad.status_code == 404 and b"InvalidSubsetting" in bad.content


def test_same_instant_tiles_are_one_time_step(tmp_path: Path) -> None:
    instant = datetime(2024, 8, 1, 10, 0, tzinfo=UTC)
    records = [
        make_s2_product(
            tmp_path / "src", "pass-west", start=instant, seed=1, collection="sentinel-2-l1c"
        ),
        make_s2_product(
            tmp_path / "src",
            "pass-east",
            start=instant,
            seed=2,
            offset=(5120, 0),
            collection="sentinel-2-l1c",
        ),
    ]
    services = start_view_services(tmp_path, records)
    try:
        data, transform, _ = _tiff(
            _get(
                f"{services.base_url}/wcs",
                REQUEST="GetCoverage",
                COVERAGEID="sentinel-2-l1c",
                RANGESUBSET="B04",
                SUBSET="time(2024-08-01T10:00:00Z)",
            )
        )
        assert data.shape == (1, 256, 512) and transform.c == 600000
        with rasterio.open(records[1].file_path) as east:
            assert np.array_equal(data[0, :, 256:], east.read(3))
    finally:
        services.close()


def test_every_listed_coverage_opens_in_gdal_and_owslib(wcs_url: str, tmp_path: Path) -> None:
    """Time series are dataset series, not coverages: nothing GDAL or OWSLib lists fails to
    open ("Can't handle coverages of type 'Grid'" before EO-WCS)."""
    env = {**os.environ, "HOME": str(tmp_path)}
    listing = subprocess.run(
        ["gdalinfo", f"WCS:{wcs_url}?version=2.0.1"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    names = [
        line.split("=", 1)[1]
        for line in listing.splitlines()
        if "SUBDATASET_" in line and "_NAME=" in line
    ]
    assert len(names) >= 3 and not any("coverage=sentinel-2-l2a" in n for n in names)
    for name in names:
        opened = subprocess.run(["gdalinfo", name], capture_output=True, text=True, env=env)
        assert opened.returncode == 0, f"{name}: {opened.stderr[-500:]}"
        assert "Size is" in opened.stdout
    service = WebCoverageService(wcs_url, version="2.0.1")
    for identifier in service.contents:
        described = service.contents[identifier]
        assert described.grid is not None and len(described.grid.offsetvectors) == 2


def test_dataset_series_in_capabilities(wcs_url: str) -> None:
    caps = _get(wcs_url, REQUEST="GetCapabilities")
    for schema in ("wcs/2.0/wcsAll.xsd", "wcs/wcseo/1.0/wcsEOAll.xsd"):
        valid, reason = validate_xml(caps.content, OGC + schema)
        assert valid, reason
    assert b"<wcseo:DatasetSeriesId>sentinel-2-l2a</wcseo:DatasetSeriesId>" in caps.content
    assert b"2024-06-01T10:00:00Z" in caps.content and b"DescribeEOCoverageSet" in caps.content


def _eo(wcs_url: str, *subsets: str, **params: str) -> requests.Response:
    query = [("SERVICE", "WCS"), ("VERSION", "2.0.1"), ("REQUEST", "DescribeEOCoverageSet")]
    query += [(key.upper(), value) for key, value in params.items()]
    query += [("SUBSET", subset) for subset in subsets]
    return requests.get(wcs_url, params=query, timeout=60)


def _member_ids(response: requests.Response) -> list[str]:
    from lxml import etree

    assert response.status_code == 200, response.text[:500]
    valid, reason = validate_xml(response.content, OGC + "wcs/wcseo/1.0/wcsEOAll.xsd")
    assert valid, reason
    root = etree.fromstring(response.content)
    return [node.text for node in root.iter("{http://www.opengis.net/wcs/2.0}CoverageId")]


def test_describe_eo_coverage_set_by_time_and_space(wcs_url: str) -> None:
    assert _member_ids(_eo(wcs_url, eoid="sentinel-2-l2a")) == ["s2-wcs-a", "s2-wcs-b"]
    # a time window around the second acquisition only
    later = _eo(
        wcs_url,
        'phenomenonTime("2024-06-05T00:00:00Z","2024-06-07T00:00:00Z")',
        eoid="sentinel-2-l2a",
    )
    assert _member_ids(later) == ["s2-wcs-b"]
    # a Lat/Long box far away matches nothing; the series is still described
    away = _eo(wcs_url, "Lat(10,11)", "Long(10,11)", eoid="sentinel-2-l2a")
    assert _member_ids(away) == [] and b'numberMatched="0"' in away.content
    assert b"<wcseo:DatasetSeriesId>sentinel-2-l2a</wcseo:DatasetSeriesId>" in away.content
    # a coverage id is its own set; count limits what is returned, not what matched
    assert _member_ids(_eo(wcs_url, eoid="s1-wcs-a")) == ["s1-wcs-a"]
    counted = _eo(wcs_url, eoid="sentinel-2-l2a", count="1")
    assert _member_ids(counted) == ["s2-wcs-a"] and b'numberMatched="2"' in counted.content
    only_series = _eo(wcs_url, eoid="sentinel-2-l2a", sections="DatasetSeriesDescriptions")
    assert _member_ids(only_series) == [] and b"DatasetSeriesDescription" in only_series.content


def test_describe_eo_coverage_set_errors_and_xml_post(wcs_url: str) -> None:
    unknown = _eo(wcs_url, eoid="nope")
    assert unknown.status_code == 404 and b"NoSuchDatasetSeriesOrCoverage" in unknown.content
    for bad in (
        {"eoid": "sentinel-2-l2a", "count": "-1"},
        {"eoid": "sentinel-2-l2a", "containment": "inside"},
        {},
    ):
        response = _eo(wcs_url, **bad)
        assert response.status_code == 400, (bad, response.text[:300])
    nan = _eo(wcs_url, "Lat(nan,1)", eoid="sentinel-2-l2a")
    assert nan.status_code == 404 and b"InvalidSubsetting" in nan.content
    body = b"""<wcseo:DescribeEOCoverageSet xmlns:wcseo="http://www.opengis.net/wcs/wcseo/1.0"
        xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS" version="2.0.1" count="10">
      <wcseo:eoId>sentinel-2-l2a</wcseo:eoId>
      <wcseo:containment>CONTAINS</wcseo:containment>
      <wcs:DimensionTrim><wcs:Dimension>phenomenonTime</wcs:Dimension>
        <wcs:TrimLow>2024-05-01T00:00:00Z</wcs:TrimLow><wcs:TrimHigh>2024-06-02T00:00:00Z</wcs:TrimHigh>
      </wcs:DimensionTrim>
    </wcseo:DescribeEOCoverageSet>"""
    posted = requests.post(
        wcs_url, data=body, headers={"Content-Type": "application/xml"}, timeout=60
    )
    assert _member_ids(posted) == ["s2-wcs-a"]
