"""The processing front ends: WPS 1.0.0 (``wps``) and OGC API - Processes (``ogcapi``),
both over the one registry, job store and Dask runner in ``ogcsdl.jobs``."""
