"""ogcsdl: an OGC web service suite for Earth-observation data."""

__version__ = "0.1.0"
