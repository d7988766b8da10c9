"""Harvesting remote catalogues (CSW, OpenSearch, STAC API) into the product store.

One module per protocol turns a remote catalogue's pages into :class:`ProductRecord`s
(``csw``, ``opensearch``, ``stac``); ``runner`` writes each page in one transaction and
keeps per-source state (``state``); ``scheduler`` runs the configured sources while the
suite serves; ``commands`` is ``ogcsdl harvest``.
"""
