"""Write synthetic scenes in the layouts real products come in: a Sentinel-2 SAFE
(MTD XML + JPEG2000 bands at 10/20/60 m under GRANULE/*/IMG_DATA) and Sentinel-1 GRD
backscatter GeoTIFFs named like the products they stand for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from lxml import etree

from ogcsdl.demo.synthetic import Landscape, OpticalScene, make_sar, scene_classification
from ogcsdl.ingest.bands import S2_BY_NAME

CRS = "EPSG:32633"  # UTM 33N: Mälaren, west of Stockholm (MGRS tile 33VXF)
TILE = "33VXF"
ORIGIN = (660000.0, 6580000.0)  # upper-left corner of the demo area, metres
_TILE_CENTRE_LONLAT = (17.8, 59.3)  # about the demo area (for the sun angles of MTD_TL.xml)
_NS = {
    "L1C": "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd",
    "L2A": "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd",
}
# Bands L2A delivers at each resolution (a subset: no AOT/WVP/TCI), as Sen2Cor does.
_L2A_FOLDERS = {
    10: ("B02", "B03", "B04", "B08"),
    20: ("B02", "B05", "B06", "B07", "B8A", "B11", "B12", "SCL"),
    60: ("B01", "B09"),
}


@dataclass(frozen=True)
class S2Acquisition:
    platform: str  # "Sentinel-2A"
    sensed: datetime
    relative_orbit: int
    absolute_orbit: int

    @property
    def short(self) -> str:
        return "S2" + self.platform[-1]


def _transform(resolution: float) -> Affine:
    return Affine(resolution, 0, ORIGIN[0], 0, -resolution, ORIGIN[1])


def _block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Aggregate the 10 m synthetic radiance to a coarser detector (sensor model, not
    resampling of a product)."""
    if factor == 1:
        return array
    rows, cols = array.shape[0] // factor, array.shape[1] // factor
    return array[: rows * factor, : cols * factor].reshape(rows, factor, cols, factor).mean((1, 3))


def _write_jp2(path: Path, array: np.ndarray, resolution: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "JP2OpenJPEG",
        "width": array.shape[1],
        "height": array.shape[0],
        "count": 1,
        "dtype": array.dtype.name,
        "crs": CRS,
        "transform": _transform(resolution),
        "QUALITY": "100",
        "REVERSIBLE": "YES",  # lossless, as the DN files in real products
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)


def _digital_numbers(reflectance: np.ndarray, valid: np.ndarray) -> np.ndarray:
    dn = np.clip(np.round(reflectance * 10000), 1, 65535).astype(np.uint16)
    dn[~valid] = 0  # 0 = no data in Sentinel-2 products
    return dn


def _band_arrays(scene: OpticalScene, level: str) -> list[tuple[str, int, np.ndarray]]:
    """(band, resolution m, array) of every file of the product."""
    by_name = dict(zip(scene.band_names, scene.reflectance, strict=True))
    if level == "L1C":
        wanted = [(name, S2_BY_NAME[name].resolution_m) for name in scene.band_names]
    else:
        wanted = [(name, res) for res, names in _L2A_FOLDERS.items() for name in names]
    out = []
    for name, resolution in wanted:
        factor = resolution // 10
        valid = scene.valid[::factor, ::factor][
            : scene.valid.shape[0] // factor, : scene.valid.shape[1] // factor
        ]
        if name == "SCL":
            scl = scene_classification(scene)[::factor, ::factor]
            out.append((name, resolution, scl[: valid.shape[0], : valid.shape[1]]))
        else:
            out.append(
                (name, resolution, _digital_numbers(_block_mean(by_name[name], factor), valid))
            )
    return out


def _metadata_xml(
    level: str, product_name: str, acquisition: S2Acquisition, cloud: float, files: list[str]
) -> bytes:
    ns = _NS[level]
    root = etree.Element(f"{{{ns}}}Level-{level[1:]}_User_Product", nsmap={"n1": ns})

    def add(parent: etree._Element, tag: str, text: object = None, **attrib: str) -> etree._Element:
        node = etree.SubElement(parent, tag, **attrib)
        if text is not None:
            node.text = str(text)
        return node

    stop = acquisition.sensed + timedelta(seconds=4)
    general = add(root, f"{{{ns}}}General_Info")
    info = add(general, "Product_Info")
    add(info, "PRODUCT_START_TIME", f"{acquisition.sensed:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z")
    add(info, "PRODUCT_STOP_TIME", f"{stop:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z")
    add(info, "PRODUCT_URI", f"{product_name}.SAFE")
    add(info, "PROCESSING_LEVEL", f"Level-{level[1:]}")
    add(info, "PRODUCT_TYPE", f"S2MSI{level[1:]}")
    add(info, "PROCESSING_BASELINE", "03.01")
    add(
        info,
        "GENERATION_TIME",
        f"{acquisition.sensed + timedelta(hours=3):%Y-%m-%dT%H:%M:%S}.000000Z",
    )
    datatake = add(
        info,
        "Datatake",
        datatakeIdentifier=f"GS2{acquisition.short[-1]}_{acquisition.sensed:%Y%m%dT%H%M%S}",
    )
    add(datatake, "SPACECRAFT_NAME", acquisition.platform)
    add(datatake, "DATATAKE_TYPE", "INS-NOBS")
    add(datatake, "DATATAKE_SENSING_START", f"{acquisition.sensed:%Y-%m-%dT%H:%M:%S}.024Z")
    add(datatake, "SENSING_ORBIT_NUMBER", f"{acquisition.relative_orbit:03d}")
    add(datatake, "SENSING_ORBIT_DIRECTION", "DESCENDING")
    granule = add(add(add(info, "Product_Organisation"), "Granule_List"), "Granule")
    for file in files:
        add(granule, "IMAGE_FILE", file)
    characteristics = add(general, "Product_Image_Characteristics")
    add(
        characteristics,
        "QUANTIFICATION_VALUE" if level == "L1C" else "BOA_QUANTIFICATION_VALUE",
        "10000",
        unit="none",
    )
    spectral_list = add(characteristics, "Spectral_Information_List")
    for band_id, info_ in enumerate(S2_BY_NAME.values()):
        physical = info_.name.replace("B0", "B")
        node = add(
            spectral_list, "Spectral_Information", bandId=str(band_id), physicalBand=physical
        )
        add(node, "RESOLUTION", info_.resolution_m)
        wavelength = add(node, "Wavelength")
        add(wavelength, "MIN", round((info_.center_um - info_.fwhm_um / 2) * 1000), unit="nm")
        add(wavelength, "MAX", round((info_.center_um + info_.fwhm_um / 2) * 1000), unit="nm")
        add(wavelength, "CENTRAL", round(info_.center_um * 1000, 1), unit="nm")
    quality = add(root, f"{{{ns}}}Quality_Indicators_Info")
    add(quality, "Cloud_Coverage_Assessment", f"{cloud:.4f}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_s2_safe(
    out_dir: Path, level: str, acquisition: S2Acquisition, scene: OpticalScene
) -> Path:
    """Write one Sentinel-2 product in the SAFE layout; returns the ``.SAFE`` folder."""
    sensed = f"{acquisition.sensed:%Y%m%dT%H%M%S}"
    generated = f"{acquisition.sensed + timedelta(hours=3):%Y%m%dT%H%M%S}"
    product_name = (
        f"{acquisition.short}_MSI{level}_{sensed}_N0301_R{acquisition.relative_orbit:03d}"
        f"_T{TILE}_{generated}"
    )
    safe = out_dir / f"{product_name}.SAFE"
    granule = (
        safe
        / "GRANULE"
        / f"{level}_T{TILE}_A{acquisition.absolute_orbit:06d}_{sensed}"
        / "IMG_DATA"
    )
    relative_files = []
    for name, resolution, array in _band_arrays(scene, level):
        if level == "L1C":
            path = granule / f"T{TILE}_{sensed}_{name}.jp2"
        else:
            path = granule / f"R{resolution}m" / f"T{TILE}_{sensed}_{name}_{resolution}m.jp2"
        _write_jp2(path, array, float(resolution))
        relative_files.append(str(path.relative_to(safe).with_suffix("")))
    metadata = _metadata_xml(
        level, product_name, acquisition, scene.cloud_cover_percent, relative_files
    )
    (safe / f"MTD_MSI{level}.xml").write_bytes(metadata)
    (granule.parent / "MTD_TL.xml").write_bytes(_tile_metadata_xml(acquisition))
    return safe


def _tile_metadata_xml(acquisition: S2Acquisition) -> bytes:
    """A minimal MTD_TL.xml: the mean sun angles (at the tile centre, from the time)."""
    from processes.cloud_shadows import sun_position

    lon, lat = _TILE_CENTRE_LONLAT
    azimuth, zenith = sun_position(acquisition.sensed, lon, lat)
    ns = "https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd"
    root = etree.Element(f"{{{ns}}}Level-1C_Tile_ID", nsmap={"n1": ns})
    angles = etree.SubElement(etree.SubElement(root, "Geometric_Info"), "Tile_Angles")
    mean = etree.SubElement(angles, "Mean_Sun_Angle")
    etree.SubElement(mean, "ZENITH_ANGLE", unit="deg").text = f"{zenith:.6f}"
    etree.SubElement(mean, "AZIMUTH_ANGLE", unit="deg").text = f"{azimuth:.6f}"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_s1_grd(
    out_dir: Path, land: Landscape, sensed: datetime, absolute_orbit: int, flooded: bool, seed: int
) -> Path:
    """Write a Sentinel-1 IW GRD backscatter GeoTIFF (VV, VH in dB) named like its product."""
    stop = sensed + timedelta(seconds=25)
    datatake = (absolute_orbit * 7919) % 0xFFFFFF
    name = (
        f"S1A_IW_GRDH_1SDV_{sensed:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_{absolute_orbit:06d}"
        f"_{datatake:06X}_{(seed * 40503) % 0xFFFF:04X}.tif"
    )
    sigma0 = make_sar(land, seed, flooded)
    path = out_dir / name
    out_dir.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "width": sigma0.shape[2],
        "height": sigma0.shape[1],
        "count": 2,
        "dtype": "float32",
        "crs": CRS,
        "transform": _transform(10.0),
        "nodata": float("nan"),
        "tiled": True,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(sigma0)
        dst.descriptions = ("VV", "VH")
        dst.update_tags(
            MISSION="SENTINEL-1A", MODE="IW", PRODUCT_TYPE="GRD", POLARISATIONS="VV VH", UNITS="dB"
        )
    return path
