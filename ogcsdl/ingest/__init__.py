"""Ingest: turn Sentinel-2/Sentinel-1 products and any georeferenced raster into
analysis-ready Cloud Optimized GeoTIFFs plus a catalogue record each."""

from ogcsdl.ingest.detect import detect, find_products
from ogcsdl.ingest.pipeline import BatchResult, ingest_paths, ingest_product

__all__ = ["BatchResult", "detect", "find_products", "ingest_paths", "ingest_product"]
