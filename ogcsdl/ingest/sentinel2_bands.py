"""Sentinel-2 as a folder of per-band GeoTIFFs (``*_B02.tif`` ...), the layout of the
OSCD dataset and of many exports. Dates come from the file names or a ``dates.txt``."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from ogcsdl.catalogue.record import SENTINEL2_L1C, SENTINEL2_L2A
from ogcsdl.errors import IngestError
from ogcsdl.ingest.bands import canonical_s2_name, platform_from_prefix, s2_band, s2_sort_key
from ogcsdl.ingest.reader import (
    BandSource,
    ProductSource,
    check_georeferenced,
    open_raster,
    parse_compact_time,
)

_BAND_FILE = re.compile(r"_(B\d\d|B8A|SCL)\.tiff?$", re.IGNORECASE)
# Old ESA tile names: S2A_OPER_MSI_L1C_TL_EPA__20160706T155721_A000849_T30UWU_B01.tif.
# The time there is when the file was *produced*, not when it was sensed.
_OPER_NAME = re.compile(
    r"^(?P<sat>S2[A-D])_OPER_MSI_(?P<level>L1C|L2A)_TL_\w{3,4}_+(?P<produced>\d{8}T\d{6})"
    r"_A(?P<orbit>\d{6})_T(?P<tile>\d\d[A-Z]{3})"
)
# Compact tile names: T40QBM_20180328T065919_B01.tif (the time is the sensing time).
_COMPACT_NAME = re.compile(r"(?:^|_)T(?P<tile>\d\d[A-Z]{3})_(?P<sensed>\d{8}T\d{6})_")
# Product names: S2B_MSIL2A_20210814T102031_N0301_R065_T33VXF_..._B02.tif
_PRODUCT_NAME = re.compile(
    r"^(?P<sat>S2[A-D])_MSI(?P<level>L1C|L2A)_(?P<sensed>\d{8}T\d{6})_.*?_T(?P<tile>\d\d[A-Z]{3})"
)
_DATES_LINE = re.compile(r"^\s*date_(\d+)\s*:\s*(\d{8})\s*$")


def band_files(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for file in sorted(folder.iterdir()):
        match = _BAND_FILE.search(file.name)
        if match and file.is_file():
            name = canonical_s2_name(match.group(1))
            if name is not None:
                files[name] = file
    return files


def _date_from_dates_txt(folder: Path) -> datetime | None:
    """OSCD keeps ``date_1: 20150821`` for ``imgs_1`` in ``<city>/dates.txt``."""
    dates_file = folder.parent / "dates.txt"
    number = re.fullmatch(r"\D*(\d+)", folder.name)
    if not dates_file.is_file() or number is None:
        return None
    for line in dates_file.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _DATES_LINE.match(line)
        if match and match.group(1) == number.group(1):
            return parse_compact_time(match.group(2))
    return None


class Sentinel2BandFolderReader:
    name = "sentinel-2-band-folder"

    def accepts(self, path: Path) -> bool:
        if not path.is_dir():
            return False
        names = set(band_files(path))
        return len(names) >= 3 and bool(names & {"B02", "B03", "B04", "B08"})

    def read(self, path: Path) -> ProductSource:
        files = band_files(path)
        if not files:
            raise IngestError(f"{path}: no *_Bxx.tif band files in this folder")
        sample = next(iter(files.values())).name
        platform_prefix, level, tile, sensed, produced, orbit = None, None, None, None, None, None
        for pattern in (_PRODUCT_NAME, _OPER_NAME, _COMPACT_NAME):
            match = pattern.search(sample)
            if match is None:
                continue
            groups = match.groupdict()
            platform_prefix = groups.get("sat")
            level = groups.get("level")
            tile = groups.get("tile")
            sensed = parse_compact_time(groups["sensed"]) if groups.get("sensed") else None
            produced = parse_compact_time(groups["produced"]) if groups.get("produced") else None
            orbit = groups.get("orbit")
            break

        extra: dict[str, object] = {"layout": "band-folder"}
        start = sensed
        if start is not None:
            extra["datetime_source"] = "sensing time in the file names"
        else:
            start = _date_from_dates_txt(path)
            if start is not None:
                extra["datetime_source"] = "dates.txt (date only)"
            elif produced is not None:
                start = produced
                extra["datetime_source"] = "production time in the file names (not sensing)"
        if start is None:
            raise IngestError(
                f"{path}: cannot tell the acquisition date: the band file names carry no "
                "date and there is no dates.txt next to the folder; rename the files like "
                "T33VXF_20210814T102031_B02.tif or pass --datetime"
            )
        if "SCL" in files or level == "L2A":
            level = "L2A"
        else:
            level = level or "L1C"
        is_l2a = level == "L2A"

        dtypes = set()
        for file in files.values():
            with open_raster(file) as src:
                check_georeferenced(src, f"band file {file.name}")
                dtypes.add(src.dtypes[0])
        if dtypes <= {"uint8", "uint16"}:
            dtype = "uint16"  # SCL is uint8; it fits the DN type losslessly
        elif len(dtypes) == 1:
            dtype = dtypes.pop()
        else:
            raise IngestError(f"{path}: band files have mixed data types {sorted(dtypes)}")

        platform = platform_from_prefix(platform_prefix) if platform_prefix else "Sentinel-2"
        if tile:
            extra["tile_id"] = tile
        if orbit:
            extra["absolute_orbit"] = int(orbit)
        level_label = "Level-2A" if is_l2a else "Level-1C"
        identifier = f"{platform_prefix or 'S2'}_MSI{level}_{start:%Y%m%dT%H%M%S}_" + (
            f"T{tile}" if tile else path.name
        )
        return ProductSource(
            identifier=identifier,
            title=f"{platform} MSI {level_label} {'T' + tile + ' ' if tile else ''}"
            f"{start:%Y-%m-%d}",
            collection=SENTINEL2_L2A if is_l2a else SENTINEL2_L1C,
            start=start,
            end=start,
            bands=[
                BandSource(s2_band(name), str(files[name]), categorical=name == "SCL")
                for name in sorted(files, key=s2_sort_key)
            ],
            source=str(path),
            dtype=dtype,
            nodata=0,
            platform=platform,
            instrument="MSI",
            sensor_type="OPTICAL",
            product_type="S2MSI2A" if is_l2a else "S2MSI1C",
            processing_level=level_label,
            keywords=["Sentinel-2", "MSI", level_label, "optical"],
            extra=extra,
        )
