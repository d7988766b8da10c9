"""The shared block machinery (processes/blocks.py): block-wise results equal the
in-memory ones on small arrays cut into small chunks, and a job's progress advances as
blocks complete on a real (in-process) Dask cluster, not only at the end."""

from __future__ import annotations

import time

import dask.array as dsa
import numpy as np
import pytest
import shapely
import xarray as xr
from scipy import ndimage
from shapely.geometry import shape

from benchmarks.accuracy_flood import flooded_fields, run_process, utm_raster, with_cloud
from processes.blocks import block_reduce, compute, keep_seeded_components, persist
from processes.flood_thresholds import grow_regions

S2_SIX = ["B02", "B03", "B04", "B08", "B11", "B12"]


class Context:
    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def progress(self, percent: float, message: str = "") -> None:
        self.calls.append((percent, message))


def reference_components(members: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(members, structure=np.ones((3, 3), bool))
    keep = np.zeros(count + 1, bool)
    keep[np.unique(labels[seeds & members])] = True
    keep[0] = False
    return keep[labels]


@pytest.mark.parametrize("chunks", [(7, 9), (16, 16), (50, 13)])
def test_seeded_components_block_wise_equal_whole_image_labelling(chunks):
    rng = np.random.default_rng(5)
    members = rng.random((60, 70)) < 0.55  # near percolation: long winding components
    members[5, :] = True  # one component crossing every vertical block edge
    members[:, 3] = False
    members[20, 20] = members[21, 21] = True  # touching only diagonally
    seeds = rng.random((60, 70)) < 0.01
    expected = reference_components(members, seeds)
    lazy = keep_seeded_components(
        dsa.from_array(members, chunks=chunks),
        dsa.from_array(seeds, chunks=chunks),
        Context(),
        (0, 1),
    )
    np.testing.assert_array_equal(lazy.compute(), expected)
    assert 0 < expected.sum() < members.sum()  # the case is not trivial


@pytest.mark.parametrize(
    "pixels", [((3, 3), (4, 4)), ((3, 4), (4, 3))], ids=["main diagonal", "anti-diagonal"]
)
def test_diagonal_contact_across_a_block_corner_joins_components(pixels):
    """4 x 4 blocks: the two pixels lie in blocks that meet only at a corner."""
    members = np.zeros((8, 8), bool)
    seeds = np.zeros((8, 8), bool)
    for y, x in pixels:
        members[y, x] = True
    seeds[pixels[0]] = True
    lazy = keep_seeded_components(
        dsa.from_array(members, chunks=4), dsa.from_array(seeds, chunks=4), Context(), (0, 1)
    )
    np.testing.assert_array_equal(lazy.compute(), members)  # both kept


def test_grow_regions_in_memory_equals_the_flood_blocks():
    """The flood's S1 growing (reach-limited, seeds from thresholds) chunked like a
    tile read in blocks gives the in-memory map and the same thresholds."""
    s1, _, _ = flooded_fields(7, size=200, water_share=0.08)
    eager = run_process({"s1": utm_raster(s1, ["VV", "VH"])})
    chunked = utm_raster(s1, ["VV", "VH"])
    chunked.data = chunked.data.chunk({"band": 2, "y": 48, "x": 56})
    lazy = run_process({"s1": chunked})
    np.testing.assert_array_equal(eager["water"].data.values, lazy["water"].data.values)
    assert eager["statistics"]["s1_thresholds_db"] == lazy["statistics"]["s1_thresholds_db"]
    assert eager["statistics"]["s1_details"] == lazy["statistics"]["s1_details"]
    split = eager["statistics"]["s1_details"]["vv_split"]
    assert split["method"] == "split-based" and split["tile_px"] == 32  # tiles cut by chunks
    # and the block path is the in-memory growing itself
    vv = s1[0]
    seeds, candidates = vv < -22, vv < -15
    np.testing.assert_array_equal(
        keep_seeded_components(
            dsa.from_array(candidates | seeds, chunks=40),
            dsa.from_array(seeds, chunks=40),
            Context(),
            (0, 1),
        ).compute(),
        grow_regions(seeds, candidates),
    )


def test_fusion_chunked_equals_in_memory():
    s1, s2, _ = flooded_fields(31, size=160, water_share=0.1)
    cloudy, _ = with_cloud(s2, 31)
    rasters = {"s1": utm_raster(s1, ["VV", "VH"]), "s2": utm_raster(cloudy, S2_SIX)}
    eager = run_process(dict(rasters))
    for raster in rasters.values():
        raster.data = raster.data.chunk({"y": 48, "x": 40})
    lazy = run_process(rasters)
    np.testing.assert_array_equal(eager["water"].data.values, lazy["water"].data.values)
    counts = eager["statistics"].pop("polygons"), lazy["statistics"].pop("polygons")
    assert eager["statistics"] == lazy["statistics"]
    # polygons: the same water; a polygon joined only through a corner pixel across a
    # block edge comes as its parts (the one documented difference)
    assert counts[0] <= counts[1] <= counts[0] + 3
    union = [
        shapely.union_all([shape(f["geometry"]) for f in out["polygons"]["features"]])
        for out in (eager, lazy)
    ]
    assert union[0].symmetric_difference(union[1]).area < 1e-6 * union[0].area  # lon/lat noise


def _histogram(offset, values):
    return np.histogram(values, bins=4, range=(0, 4))[0], offset


def test_block_reduce_gives_every_block_with_its_offset():
    values = dsa.from_array(np.arange(30 * 20).reshape(30, 20) % 4, chunks=(10, 8))
    parts = block_reduce(Context(), (0, 1), "histogram", _histogram, values)
    assert [offset for _, offset in parts] == [(r, c) for r in (0, 10, 20) for c in (0, 8, 16)]
    assert np.sum([h for h, _ in parts], axis=0).tolist() == [150] * 4


def _slow_block(block):
    time.sleep(0.04)
    return block + 1


def _job_on_worker(n_blocks: int):
    """What a job does on a worker: persist, reduce and compute block graphs."""
    context = Context()
    data = xr.DataArray(dsa.ones((n_blocks * 8, 8), chunks=8).map_blocks(_slow_block))
    (kept,) = persist(context, 10, 50, "filter", data)
    (values,) = compute(context, 50, 90, "map", kept * 2)
    return context.calls, float(values.sum())


def test_progress_advances_as_blocks_complete_on_a_dask_cluster():
    import distributed  # a dependency of the suite (the job cluster): never skipped

    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        # one thread: the job's own task must let its blocks run (no deadlock)
        calls, total = client.submit(_job_on_worker, 40, pure=False).result(timeout=60)
    assert total == 40 * 8 * 8 * 4
    inside = [p for p, message in calls if message == "filter" and 10 < p < 50]
    assert len(inside) >= 3, calls  # reported while the blocks ran, not only at the end
    assert inside == sorted(inside)
    assert calls[-1][0] == 90


def test_polygons_by_block_sieve_and_join_as_the_whole_mask():
    from affine import Affine

    from processes.raster_ops import polygons, polygons_by_block

    rng = np.random.default_rng(2)
    mask = ndimage.uniform_filter(rng.random((90, 110)), 5) > 0.55  # blobs and specks
    transform = Affine(10, 0, 500000, 0, -10, 6500000)
    whole = polygons(mask, "EPSG:32633", transform, {"class": "water"}, min_pixels=6)
    blocks = polygons_by_block(
        dsa.from_array(mask, chunks=(25, 30)),
        "EPSG:32633",
        transform,
        {"class": "water"},
        6,
        Context(),
        (0, 1),
    )
    union = [shapely.union_all([shape(f["geometry"]) for f in fs]) for fs in (whole, blocks)]
    assert union[0].area > 0 and len(whole) > 3
    assert union[0].symmetric_difference(union[1]).area < 1e-6 * union[0].area
    # parts joined only through corner pixels may come apart where a union was needed
    assert len(whole) <= len(blocks)
    assert all(f["properties"] == {"class": "water"} for f in blocks)


def test_full_tiles_are_processed_in_blocks_of_whole_read_chunks():
    from processes.flood_mapping import coarser_blocks

    tile = xr.DataArray(dsa.zeros((1, 5000, 5000), chunks=(1, 1024, 1024)), dims=("band", "y", "x"))
    assert coarser_blocks(tile).data.chunks[1] == (2048, 2048, 904)
    small = xr.DataArray(dsa.zeros((1, 300, 300), chunks=(1, 48, 48)), dims=("band", "y", "x"))
    assert coarser_blocks(small).data.chunks == small.data.chunks  # tests keep small blocks
