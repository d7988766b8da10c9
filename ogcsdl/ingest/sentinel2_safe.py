"""Sentinel-2 L1C/L2A in the SAFE layout: ``MTD_MSIL1C.xml``/``MTD_MSIL2A.xml`` plus
``GRANULE/*/IMG_DATA`` band files (JPEG2000 as distributed, or GeoTIFF), as a folder or
as the zip the Copernicus hubs deliver (read in place, not unpacked)."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from ogcsdl.catalogue.record import SENTINEL2_L1C, SENTINEL2_L2A
from ogcsdl.errors import IngestError
from ogcsdl.ingest.bands import (
    S2_BY_NAME,
    canonical_s2_name,
    platform_from_prefix,
    s2_band,
    s2_sort_key,
)
from ogcsdl.ingest.reader import BandSource, ProductSource

_METADATA_NAMES = ("MTD_MSIL1C.xml", "MTD_MSIL2A.xml")
# T33VXF_20210814T102031_B02.jp2 (L1C) or T33VXF_20210814T102031_B02_10m.jp2 (L2A)
_BAND_FILE = re.compile(
    r"(?:^|_)(?P<band>B\d\d|B8A|SCL)(?:_(?P<res>\d\d)m)?\.(?:jp2|tiff?)$", re.IGNORECASE
)
_TILE = re.compile(r"(?:^|_)T(\d\d[A-Z]{3})(?:_|$)")
_ZIPPED_MTD = re.compile(r"^[^/]+\.SAFE/MTD_MSIL(?:1C|2A)\.xml$")
_ZIPPED_TILE_MTD = re.compile(r"^[^/]+\.SAFE/GRANULE/[^/]+/MTD_TL\.xml$")
_MAX_METADATA_BYTES = 50 * 1024 * 1024  # real MTD files are < 1 MB: refuse zip bombs
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass(frozen=True)
class _SafeContents:
    """A SAFE product's metadata and band files, whether in a folder or a zip."""

    metadata_name: str
    metadata: bytes
    product_name: str  # the .SAFE folder name
    files: list[tuple[str, str]]  # (path inside the SAFE, GDAL dataset name)
    source: str
    tile_metadata: bytes | None = None  # GRANULE/*/MTD_TL.xml (sun angles), when present


def _metadata_file(path: Path) -> Path | None:
    if path.is_file() and path.name in _METADATA_NAMES:
        return path
    if path.is_dir():
        for name in _METADATA_NAMES:
            if (path / name).is_file():
                return path / name
    return None


def _zip_metadata_member(path: Path) -> zipfile.ZipInfo | None:
    if not path.is_file() or path.suffix.lower() != ".zip" or not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if _ZIPPED_MTD.match(info.filename):
                return info
    return None


def _folder_contents(path: Path) -> _SafeContents:
    metadata_file = _metadata_file(path)
    if metadata_file is None:
        raise IngestError("no MTD_MSIL1C.xml or MTD_MSIL2A.xml in this SAFE folder")
    product_dir = metadata_file.parent
    files = [
        (str(file.relative_to(product_dir)), str(file))
        for file in sorted(product_dir.glob("GRANULE/*/IMG_DATA/**/*"))
        if file.is_file()
    ]
    tile_files = [
        f
        for f in sorted(product_dir.glob("GRANULE/*/MTD_TL.xml"))
        if f.is_file() and f.stat().st_size <= _MAX_METADATA_BYTES
    ]
    return _SafeContents(
        metadata_file.name,
        metadata_file.read_bytes(),
        product_dir.name,
        files,
        str(product_dir),
        tile_files[0].read_bytes() if tile_files else None,
    )


def _zip_contents(path: Path) -> _SafeContents:
    """A zipped SAFE as distributed by the Copernicus hubs, read in place via /vsizip/."""
    info = _zip_metadata_member(path)
    if info is None:
        raise IngestError("this zip holds no <name>.SAFE/MTD_MSIL1C.xml or MTD_MSIL2A.xml")
    if info.file_size > _MAX_METADATA_BYTES:
        raise IngestError(f"{info.filename} is implausibly large ({info.file_size} bytes)")
    product_name, _, metadata_name = info.filename.partition("/")
    with zipfile.ZipFile(path) as archive:
        metadata = archive.read(info)
        names = sorted(archive.namelist())
        tile_info = next(
            (
                i
                for i in archive.infolist()
                if _ZIPPED_TILE_MTD.match(i.filename) and i.file_size <= _MAX_METADATA_BYTES
            ),
            None,
        )
        tile_metadata = archive.read(tile_info) if tile_info else None
    prefix = f"{product_name}/"
    files = [
        (name[len(prefix) :], f"/vsizip/{path.resolve()}/{name}")
        for name in names
        if name.startswith(prefix + "GRANULE/") and "/IMG_DATA/" in name
    ]
    return _SafeContents(metadata_name, metadata, product_name, files, str(path), tile_metadata)


def _band_files(files: list[tuple[str, str]]) -> dict[str, str]:
    """The dataset of each band at its native resolution (L2A ships coarser copies too)."""
    candidates: dict[str, list[tuple[int, str]]] = {}
    for inner, dataset in files:
        match = _BAND_FILE.search(inner.rsplit("/", 1)[-1])
        if not match:
            continue
        name = canonical_s2_name(match.group("band"))
        if name is None:
            continue
        resolution = int(match.group("res")) if match.group("res") else 0
        candidates.setdefault(name, []).append((resolution, dataset))
    chosen: dict[str, str] = {}
    for name, options in candidates.items():
        native = 20 if name == "SCL" else S2_BY_NAME[name].resolution_m
        exact = [dataset for res, dataset in options if res in (0, native)]
        chosen[name] = exact[0] if exact else min(options, key=lambda item: item[0])[1]
    return chosen


def _text(root: etree._Element, local_name: str) -> str | None:
    found = root.xpath(f"//*[local-name()='{local_name}']")
    if not found or found[0].text is None:
        return None
    return str(found[0].text).strip()


def _time(root: etree._Element, *names: str) -> datetime | None:
    for name in names:
        value = _text(root, name)
        if value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise IngestError(f"{name} {value!r} is not an ISO 8601 time") from None
    return None


def _number(text: str | None, what: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise IngestError(f"{what} {text!r} is not a number") from None


def sun_angles(tile_metadata: bytes | None) -> dict[str, float]:
    """``sun_zenith``/``sun_azimuth`` (degrees) from MTD_TL.xml's
    ``Tile_Angles/Mean_Sun_Angle``; empty when absent or unreadable (they only refine the
    cloud-shadow geometry, which falls back to the acquisition time)."""
    if not tile_metadata:
        return {}
    try:
        root = etree.fromstring(tile_metadata, _SAFE_PARSER)
    except etree.XMLSyntaxError:
        return {}
    out = {}
    for key, name in (("sun_zenith", "ZENITH_ANGLE"), ("sun_azimuth", "AZIMUTH_ANGLE")):
        found = root.xpath(f"//*[local-name()='Mean_Sun_Angle']/*[local-name()='{name}']")
        try:
            value = float(str(found[0].text).strip()) if found else None
        except ValueError:
            value = None
        if value is not None and (0 <= value <= 90 if key == "sun_zenith" else 0 <= value <= 360):
            out[key] = value
    return out


def _spectral_info(root: etree._Element) -> dict[str, tuple[float, float | None]]:
    """Band name -> (central wavelength, FWHM) in micrometres, from the product itself."""
    out: dict[str, tuple[float, float | None]] = {}
    for node in root.xpath("//*[local-name()='Spectral_Information']"):
        name = canonical_s2_name(node.get("physicalBand", ""))
        central = node.xpath(".//*[local-name()='CENTRAL']/text()")
        if name is None or not central:
            continue
        low = node.xpath(".//*[local-name()='MIN']/text()")
        high = node.xpath(".//*[local-name()='MAX']/text()")
        fwhm = (float(high[0]) - float(low[0])) / 1000.0 if low and high else None
        out[name] = (float(central[0]) / 1000.0, fwhm)
    return out


class Sentinel2SafeReader:
    name = "sentinel-2-safe"

    def accepts(self, path: Path) -> bool:
        return _metadata_file(path) is not None or _zip_metadata_member(path) is not None

    def read(self, path: Path) -> ProductSource:
        try:
            contents = (
                _zip_contents(path) if path.suffix.lower() == ".zip" else _folder_contents(path)
            )
        except (zipfile.BadZipFile, OSError) as exc:
            raise IngestError(f"cannot read the SAFE product ({exc})") from None
        metadata_name = contents.metadata_name
        try:
            root = etree.fromstring(contents.metadata, _SAFE_PARSER)
        except etree.XMLSyntaxError as exc:
            raise IngestError(f"{metadata_name} is not well-formed XML ({exc})") from None

        level = _text(root, "PROCESSING_LEVEL") or ""
        is_l2a = "2A" in level or metadata_name == "MTD_MSIL2A.xml"
        start = _time(root, "PRODUCT_START_TIME", "DATATAKE_SENSING_START")
        if start is None:
            raise IngestError(f"{metadata_name} has no PRODUCT_START_TIME")
        end = _time(root, "PRODUCT_STOP_TIME") or start
        product_uri = _text(root, "PRODUCT_URI") or contents.product_name
        identifier = product_uri.removesuffix(".SAFE")
        platform = (_text(root, "SPACECRAFT_NAME") or "").strip() or platform_from_prefix(
            identifier[:3]
        )

        files = _band_files(contents.files)
        if not any(name in files for name in ("B02", "B03", "B04", "B08")):
            raise IngestError(
                f"{contents.product_name}: no 10 m band files (B02/B03/B04/B08) under "
                "GRANULE/*/IMG_DATA; is the SAFE product complete?"
            )
        spectral = _spectral_info(root)
        bands = [
            BandSource(
                s2_band(name, *spectral.get(name, (None, None))),
                files[name],
                categorical=name == "SCL",
            )
            for name in sorted(files, key=s2_sort_key)
        ]
        tile_match = next(
            (m for m in (_TILE.search(Path(f).name) for f in files.values()) if m), None
        ) or _TILE.search(identifier)
        tile = tile_match.group(1) if tile_match else None
        cloud = _text(root, "Cloud_Coverage_Assessment")
        extra: dict[str, object] = {
            "tile_id": tile,
            "processing_baseline": _text(root, "PROCESSING_BASELINE"),
            "relative_orbit": _number(_text(root, "SENSING_ORBIT_NUMBER"), "SENSING_ORBIT_NUMBER"),
            "orbit_direction": _text(root, "SENSING_ORBIT_DIRECTION"),
            "quantification_value": _text(root, "BOA_QUANTIFICATION_VALUE")
            or _text(root, "QUANTIFICATION_VALUE"),
            "layout": "SAFE (zip)" if contents.source.lower().endswith(".zip") else "SAFE",
        }
        extra.update(sun_angles(contents.tile_metadata))
        offsets = root.xpath(
            "//*[local-name()='BOA_ADD_OFFSET' or local-name()='RADIO_ADD_OFFSET']"
        )
        if offsets:
            # Baseline 04.00+: reflectance = (DN + offset) / quantification value.
            extra["add_offset"] = _number(offsets[0].text, "BOA_ADD_OFFSET")
        level_label = "Level-2A" if is_l2a else "Level-1C"
        return ProductSource(
            identifier=identifier,
            title=f"{platform or 'Sentinel-2'} MSI {level_label} {tile or ''} "
            f"{start:%Y-%m-%d %H:%M} UTC".replace("  ", " "),
            collection=SENTINEL2_L2A if is_l2a else SENTINEL2_L1C,
            start=start,
            end=end,
            bands=bands,
            source=contents.source,
            dtype="uint16",
            nodata=0,
            platform=platform,
            instrument="MSI",
            sensor_type="OPTICAL",
            product_type=_text(root, "PRODUCT_TYPE") or ("S2MSI2A" if is_l2a else "S2MSI1C"),
            processing_level=level_label,
            cloud_cover=_number(cloud, "Cloud_Coverage_Assessment"),
            keywords=["Sentinel-2", "MSI", level_label, "optical"],
            extra={key: value for key, value in extra.items() if value is not None},
        )
