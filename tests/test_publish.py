"""Publishing a process output: COG written through the one product writer, overviews
that keep classes, a traced footprint, and all-or-nothing for a job's outputs."""

from __future__ import annotations

import dataclasses
import errno
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from rasterio._err import CPLE_AppDefinedError
from rasterio.warp import transform_geom
from shapely import wkt
from shapely.geometry import box, mapping, shape

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import product_href
from ogcsdl.config import PROJECT_ROOT, Settings, load_settings
from ogcsdl.ingest.writer import Publication, storage_error
from ogcsdl.jobs.executor import _run_guarded
from ogcsdl.jobs.store import Job, job_store
from ogcsdl.publish import Lineage, publish_raster, stage_raster
from ogcsdl.schema import create_schema
from processes import classes
from processes.base import ProcessDescription, Raster, RasterOutput
from processes.raster_ops import class_raster, float_raster
from tests.processing_support import processing_settings, subprocess_env
from tests.required import unavailable

SIZE = 256
UTM33 = "EPSG:32633"
TRANSFORM = Affine(10, 0, 600000, 0, -10, 6580000)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Small blocks so a small raster gets overview levels as a full tile does.
    settings = load_settings(None, data_dir=tmp_path / "var", ingest={"blocksize": 128})
    settings.ensure_dirs()
    create_schema(settings)
    return settings


def _like() -> Raster:
    data = xr.DataArray(np.zeros((1, SIZE, SIZE), "float32"), dims=("band", "y", "x"))
    return Raster(data=data.assign_coords(band=["x"]), crs=UTM33, transform=TRANSFORM)


def _description(*outputs: RasterOutput) -> ProcessDescription:
    return ProcessDescription("test-proc", "1.0", "Test", "", (), outputs)


def _lineage(job_id: str = "0123456789abcdef") -> Lineage:
    now = datetime(2024, 6, 1, tzinfo=UTC)
    return Lineage("test-proc", "1.0", job_id, {}, [], now, now)


def _checkerboard_classes() -> np.ndarray:
    """Clear (1) and shadow (4) alternating per pixel: their average, 2 or 3, is a
    class (cloud, thin cloud) that is in none of the source pixels."""
    rows, cols = np.indices((SIZE, SIZE))
    board = np.where((rows + cols) % 2 == 0, classes.CLEAR, classes.SHADOW).astype("uint8")
    board[:, :32] = classes.NODATA  # a nodata strip, so the footprint is not the bbox
    return board


def test_class_mask_overviews_only_hold_classes_of_their_source_pixels(
    settings: Settings,
) -> None:
    board = _checkerboard_classes()
    mask = class_raster(board, _like(), "cloud_class", classes.CLOUD_CLASSES)
    output = RasterOutput("mask", "Cloud classes", "cloud-mask", style="cloud-classes")
    record = publish_raster(mask, output, _description(output), _lineage(), settings)

    with rasterio.open(record.file_path) as src:
        factors = src.overviews(1)
        assert factors, "the published COG has overviews"
        for factor in factors:
            overview = src.read(
                1,
                out_shape=(SIZE // factor, SIZE // factor),
                resampling=rasterio.enums.Resampling.nearest,
            )
            blocks = board.reshape(SIZE // factor, factor, SIZE // factor, factor)
            present = [
                set(np.unique(blocks[r, :, c, :]).tolist())
                for r in range(SIZE // factor)
                for c in range(SIZE // factor)
            ]
            wrong = sum(
                value not in block for value, block in zip(overview.ravel().tolist(), present)
            )
            assert wrong == 0, f"overview 1/{factor}: {wrong} pixels hold a class not below them"


def test_outputs_are_compressed_with_one_gdal_thread(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job publishes on a Dask worker whose cores run blocks: GDAL's own thread pool
    there cost ~14x the CPU of one thread (benchmarks/README.md)."""
    import ogcsdl.ingest.writer as writer

    used: list[str] = []
    copy = writer.rasterio.shutil.copy

    def recording_copy(source, target, **options):  # type: ignore[no-untyped-def]
        used.append(options["NUM_THREADS"])
        return copy(source, target, **options)

    monkeypatch.setattr(writer.rasterio.shutil, "copy", recording_copy)
    mask = class_raster(_checkerboard_classes(), _like(), "cloud_class", classes.CLOUD_CLASSES)
    output = RasterOutput("mask", "Cloud classes", "cloud-mask", style="cloud-classes")
    publish_raster(mask, output, _description(output), _lineage(), settings)
    assert used == ["1"]


def test_published_output_has_a_traced_footprint(settings: Settings) -> None:
    board = _checkerboard_classes()
    mask = class_raster(board, _like(), "cloud_class", classes.CLOUD_CLASSES)
    output = RasterOutput("mask", "Cloud classes", "cloud-mask", style="cloud-classes")
    record = publish_raster(mask, output, _description(output), _lineage(), settings)

    footprint = wkt.loads(record.footprint_wkt)
    raster_extent = box(600000, 6580000 - SIZE * 10, 600000 + SIZE * 10, 6580000)
    full = shape(transform_geom(UTM33, "EPSG:4326", mapping(raster_extent)))
    # 32 of 256 columns are nodata: the traced footprint covers 7/8 of the raster, not all.
    assert footprint.area / full.area == pytest.approx(224 / 256, rel=0.02)
    assert full.buffer(1e-4).contains(footprint)  # ~10 m: densified edges
    assert product_store(settings).get(record.identifier).footprint_wkt == record.footprint_wkt


def test_continuous_outputs_keep_averaged_overviews(settings: Settings) -> None:
    ramp = np.tile(np.linspace(0, 1, SIZE, dtype="float32"), (SIZE, 1))
    probability = float_raster(ramp, _like(), "cloud_probability")
    output = RasterOutput(
        "probability", "Cloud probability", "cloud-probability", style="probability"
    )
    record = publish_raster(probability, output, _description(output), _lineage(), settings)
    assert record.extra["overview_resampling"] == "AVERAGE"
    with rasterio.open(record.file_path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.overviews(1)


def test_continuous_outputs_are_deflated_fast_to_the_same_pixels_and_overviews(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A float output is written at DEFLATE level 1 (publishing is a serial step of the
    job, and level 6 cost 1.7x the CPU on a float tile): what a client decodes, the
    pixels and every overview, is what GDAL's default level gives."""
    import ogcsdl.ingest.writer as writer

    levels: list[str | None] = []
    copy = writer.rasterio.shutil.copy

    def recording_copy(source, target, **options):  # type: ignore[no-untyped-def]
        levels.append(options.get("LEVEL"))
        return copy(source, target, **options)

    monkeypatch.setattr(writer.rasterio.shutil, "copy", recording_copy)
    rng = np.random.default_rng(1)
    values = (np.tile(np.linspace(0, 1, SIZE, dtype="float32"), (SIZE, 1))) * rng.random(
        (SIZE, SIZE), dtype="float32"
    )
    values[:20, :20] = np.nan
    probability = float_raster(values, _like(), "cloud_probability")
    output = RasterOutput(
        "probability", "Cloud probability", "cloud-probability", style="probability"
    )
    record = publish_raster(probability, output, _description(output), _lineage(), settings)
    mask = class_raster(_checkerboard_classes(), _like(), "cloud_class", classes.CLOUD_CLASSES)
    classes_output = RasterOutput("mask", "Cloud classes", "cloud-mask", style="cloud-classes")
    publish_raster(mask, classes_output, _description(classes_output), _lineage("c"), settings)
    assert levels == ["1", None]  # class maps keep GDAL's default level

    reference = settings.data_dir / "default-level.tif"
    options = writer.cog_options(settings.ingest, categorical=False, threads="1")
    with writer.array_dataset(values[np.newaxis], UTM33, TRANSFORM, float("nan")) as dataset:
        writer.write_cog(dataset, reference, options)

    def decoded(path: Path) -> list[np.ndarray]:
        with rasterio.open(path) as src:
            count = len(src.overviews(1))
        levels = []
        for level in [None, *range(count)]:
            extra = {} if level is None else {"overview_level": level}
            with rasterio.open(path, **extra) as src:
                levels.append(src.read(1))
        return levels

    published, expected = decoded(Path(record.file_path)), decoded(reference)
    assert len(published) == len(expected) > 1
    for got, want in zip(published, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def _scratch(settings: Settings) -> list[str]:
    """Every file or directory a job may leave behind under the data directory."""
    return sorted(
        str(path.relative_to(settings.data_dir))
        for path in settings.data_dir.rglob("*")
        if path.name.endswith((".part", ".tmp")) or path.name.startswith("job-")
    )


def _run_in_process(settings: Settings, inputs: dict[str, object]) -> Job:
    store = job_store(settings.database_url)
    job = store.create("pair", "1.0.0", "ogcapi", inputs)
    _run_guarded(job.job_id, settings)
    return store.get(job.job_id)


def test_a_job_publishes_all_its_outputs(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path / "var")
    job = _run_in_process(settings, {"size": 300})
    assert job.status == "successful", job.message
    assert job.outputs is not None and set(job.outputs) == {"first", "second"}
    products = product_store(settings)
    for output in job.outputs.values():
        record = products.get(str(output.product_id))
        assert Path(record.file_path).is_file()
        assert output.href == product_href(settings, record.identifier)
    assert _scratch(settings) == []


def test_an_output_handed_over_early_is_published_with_the_others(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path / "var")
    job = _run_in_process(settings, {"size": 300, "early": True})
    assert job.status == "successful", job.message
    assert job.outputs is not None and set(job.outputs) == {"first", "second"}
    noise = np.random.default_rng(0).random((1, 300, 300), dtype="float32")
    for output in job.outputs.values():  # written in threads: the same pixels as serially
        with rasterio.open(product_store(settings).get(str(output.product_id)).file_path) as src:
            np.testing.assert_array_equal(src.read(), noise)
    assert _scratch(settings) == []


@pytest.mark.parametrize("case", [{"fail_second": True}, {"swap": True}])
def test_a_job_failing_after_an_early_output_publishes_none(
    tmp_path: Path, case: dict[str, bool]
) -> None:
    """The early output was being written when the job failed (the second output is not
    a raster, or the first is not the object handed over): nothing of it stays."""
    settings = processing_settings(tmp_path / "var")
    job = _run_in_process(settings, {"size": 300, "early": True, **case})
    assert job.status == "failed"
    assert "must be a Raster" in str(job.message) or "handed over" in str(job.message)
    assert product_store(settings).list() == []
    assert list(settings.cog_dir.iterdir()) == []
    assert _scratch(settings) == []


def test_a_job_failing_after_its_first_output_publishes_none(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path / "var")
    job = _run_in_process(settings, {"size": 300, "fail_second": True})
    assert job.status == "failed"
    assert product_store(settings).list() == []
    assert list(settings.cog_dir.iterdir()) == []
    assert _scratch(settings) == []


def test_enospc_and_gdal_write_errors_on_a_full_disk_say_no_space_left(tmp_path: Path) -> None:
    full = storage_error(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    assert full is not None and "no space left on device" in full.message
    assert full.status == 507 and str(tmp_path) not in full.message
    # GDAL's own words for ENOSPC; the disk here has room, so it is another failure.
    gdal = CPLE_AppDefinedError(3, 1, "TIFFWriteDirectoryTagData:IO error writing tag data")
    assert storage_error(gdal, tmp_path) is None
    assert storage_error(ValueError("bad"), tmp_path) is None


_FULL_DISK_JOB = """
import json, sys
from pathlib import Path
from ogcsdl.jobs.executor import _run_guarded
from ogcsdl.jobs.store import job_store
from tests.processing_support import processing_settings, subprocess_env

data_dir, database = Path(sys.argv[1]), sys.argv[2]
settings = processing_settings(data_dir, database={"url": database})
store = job_store(settings.database_url)
job = store.create("pair", "1.0.0", "ogcapi", {"size": 1024})
_run_guarded(job.job_id, settings)
done = store.get(job.job_id)
print(json.dumps({"status": done.status, "message": done.message}))
"""


def _can_mount_tmpfs() -> bool:
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def test_a_job_on_a_full_disk_fails_saying_no_space_left(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or not _can_mount_tmpfs():
        why = "needs unshare + mount (root or CAP_SYS_ADMIN) for a small private tmpfs"
        unavailable("MOUNT", why)
    small = tmp_path / "small"
    small.mkdir()
    script = tmp_path / "job.py"
    script.write_text(_FULL_DISK_JOB, encoding="utf-8")
    database = f"sqlite:///{tmp_path / 'jobs.db'}"  # the database is on a disk with room
    # 1 MiB of data directory; the job's 1024 x 1024 float32 noise needs ~4 MiB.
    command = (
        f"mount -t tmpfs -o size=1m tmpfs {small} && "
        f"{sys.executable} {script} {small / 'var'} {database} && ls -aR {small}"
    )
    result = subprocess.run(
        ["unshare", "--mount", "sh", "-c", command],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
        env=subprocess_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.splitlines()[0])
    assert outcome["status"] == "failed"
    assert "no space left on device" in outcome["message"]
    listing = result.stdout.split("\n", 1)[1]
    assert ".part" not in listing and "job-" not in listing, listing


def test_an_error_after_commit_withdraws_the_publication(settings: Settings) -> None:
    store = product_store(settings)
    mask = class_raster(_checkerboard_classes(), _like(), "cloud_class", classes.CLOUD_CLASSES)
    output = RasterOutput("mask", "Cloud classes", "cloud-mask", style="cloud-classes")
    kept = publish_raster(mask, output, _description(output), _lineage("a" * 16), settings)
    with pytest.raises(RuntimeError), Publication(store) as publication:
        new = stage_raster(publication, mask, output, _description(output), _lineage(), settings)
        changed = dataclasses.replace(kept, title="changed by the failed job")
        publication.commit([new, changed])
        assert Path(new.file_path).is_file() and store.get(kept.identifier).title == changed.title
        raise RuntimeError("marking the job failed")
    assert not Path(new.file_path).exists()
    assert [record.identifier for record in store.list()] == [kept.identifier]
    assert store.get(kept.identifier).title == kept.title  # restored as it was
    assert Path(kept.file_path).is_file()
