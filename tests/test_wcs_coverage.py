"""A coverage's grid and bands come from its file, whatever the record says."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ogcsdl.catalogue.record import Band
from ogcsdl.coverages.coverage import coverage_of
from ogcsdl.coverages.errors import NoSuchCoverage
from ogcsdl.coverages.getcoverage import _band_indexes
from ogcsdl.errors import InvalidParameterValue
from tests.view_fixtures import make_s2_product


def test_record_listing_more_bands_than_its_file(tmp_path: Path) -> None:
    record = make_s2_product(tmp_path, "bands-mismatch", size=32)
    extra = dataclasses.replace(record, bands=[*record.bands, Band("B99"), Band("B98")])
    coverage = coverage_of(extra)
    assert coverage.record.band_names == record.band_names


def test_record_whose_file_is_gone(tmp_path: Path) -> None:
    record = make_s2_product(tmp_path, "gone", size=32)
    Path(record.file_path).unlink()
    with pytest.raises(NoSuchCoverage, match="re-ingest"):
        coverage_of(record)


def test_a_reversed_range_interval_is_a_400(tmp_path: Path) -> None:
    """RANGESUBSET=B04:B02 (B04 after B02) gave rasterio no bands to read: a 500."""
    coverage = coverage_of(make_s2_product(tmp_path, "range-order", size=32))
    names = coverage.record.band_names
    with pytest.raises(InvalidParameterValue) as raised:
        _band_indexes(coverage, (f"{names[2]}:{names[0]}",))
    assert raised.value.status == 400
    assert _band_indexes(coverage, (f"{names[0]}:{names[2]}",)) == [1, 2, 3]
