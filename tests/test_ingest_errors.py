"""Bad input: a clear reason, nothing left behind, and the batch goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import PROJECT_ROOT, Settings, load_settings
from ogcsdl.errors import IngestError
from ogcsdl.ingest import ingest_paths, ingest_product
from ogcsdl.ingest.generic import content_hash
from ogcsdl.schema import create_schema
from tests import rasters


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(None, data_dir=tmp_path / "var")
    settings.ensure_dirs()
    create_schema(settings)
    return settings


def _leftovers(settings: Settings) -> list[str]:
    return sorted(path.name for path in settings.cog_dir.iterdir())


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("random", "not a readable raster"),
        ("text", "not a readable raster"),
        ("truncated", "truncated"),
        ("unknown", "not a product this suite can ingest"),
    ],
)
def test_broken_file_gives_a_clear_error_and_leaves_nothing(
    tmp_path: Path, settings: Settings, kind: str, reason: str
) -> None:
    path = rasters.write_broken_files(tmp_path / "in")[kind]
    with pytest.raises(IngestError, match=reason) as caught:
        ingest_product(settings, path)
    assert "Traceback" not in caught.value.message
    assert _leftovers(settings) == []
    assert product_store(settings).list() == []


def test_not_georeferenced_file_is_refused(tmp_path: Path, settings: Settings) -> None:
    path = rasters.write_geotiff(tmp_path / "label.tif", rasters.reflectance_dn(16)[0], crs=None)
    with pytest.raises(IngestError, match="no georeferencing"):
        ingest_product(settings, path)


def test_truncated_band_in_a_safe_fails_the_product_only(
    tmp_path: Path, settings: Settings
) -> None:
    safe = rasters.write_s2_safe_product(tmp_path / "in", "L1C", size=120)
    band = next(safe.glob("GRANULE/*/IMG_DATA/*_B03.jp2"))
    band.write_bytes(band.read_bytes()[: band.stat().st_size // 2])
    with pytest.raises(IngestError):
        ingest_product(settings, safe)
    assert _leftovers(settings) == []
    assert product_store(settings).list() == []


def test_a_failed_reingest_keeps_the_previous_cog(tmp_path: Path, settings: Settings) -> None:
    folder = rasters.write_s2_band_folder(tmp_path / "imgs_2")
    record = ingest_product(settings, folder)
    before = Path(record.file_path).read_bytes()
    band = folder / "T33VXF_20210725T102031_B11.tif"
    band.write_bytes(band.read_bytes()[:200])
    with pytest.raises(IngestError):
        ingest_product(settings, folder)
    assert Path(record.file_path).read_bytes() == before
    assert _leftovers(settings) == [f"{record.identifier}.tif"]
    assert len(product_store(settings).list()) == 1


def test_batch_reports_bad_files_and_ingests_the_rest(tmp_path: Path, settings: Settings) -> None:
    broken = rasters.write_broken_files(tmp_path / "in" / "broken")
    good = rasters.write_s1_product(tmp_path / "in" / "s1")
    rasters.write_geotiff(
        tmp_path / "in" / "cm" / "label.tif", rasters.reflectance_dn(8)[0], crs=None
    )
    result = ingest_paths(settings, [tmp_path / "in", broken["unknown"]], progress=False)
    assert [r.source for r in result.ingested] == [str(good)]
    failed = {path.name: reason for path, reason in result.failed}
    assert set(failed) == {"random.tif", "notes.tif", "truncated.tif", "readme.txt"}
    assert [path.name for path, _ in result.skipped] == ["label.tif"]  # found by scanning
    assert _leftovers(settings) == [f"{result.ingested[0].identifier}.tif"]


def test_cli_prints_failed_lines_a_summary_and_exits_non_zero(tmp_path: Path) -> None:
    broken = rasters.write_broken_files(tmp_path / "in")
    good = rasters.write_partial_valid(tmp_path / "in" / "good.tif")
    config = tmp_path / "ogcsdl.yml"
    config.write_text(f"data_dir: {tmp_path / 'var'}\n", encoding="utf-8")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ogcsdl",
            "--config",
            str(config),
            "ingest",
            str(broken["random"]),
            str(good),
            str(broken["text"]),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stderr
    assert f"FAILED {broken['random']}: not a readable raster" in completed.stderr
    assert f"FAILED {broken['text']}:" in completed.stderr
    assert "1 ingested, 2 failed, 0 skipped" in completed.stdout
    assert "Traceback" not in completed.stderr and "GDAL signalled" not in completed.stderr
    assert [p.name for p in (tmp_path / "var" / "cogs").iterdir()] == [
        f"good-{content_hash(good)}.tif"
    ]


def test_file_text_xml_cannot_carry_is_dropped_not_fatal(
    tmp_path: Path, settings: Settings
) -> None:
    """A NetCDF title holding a control character: the record (served as XML by the
    catalogue) keeps the rest of the text, and ingest succeeds."""
    path = rasters.write_netcdf(tmp_path / "odd.nc", title="NDVI\x07 and LST\x1b")
    record = ingest_product(settings, path)
    assert record.title == "NDVI and LST"
    assert product_store(settings).get(record.identifier).title == "NDVI and LST"
