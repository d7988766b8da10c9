"""Where the offline OGC schemas (``shared/schemas``) are."""

from __future__ import annotations

import os
from pathlib import Path


def shared_schemas_dir() -> Path:
    """``$OGCSDL_SCHEMAS``, else the nearest ``shared/schemas`` above this checkout
    (the project's ``../shared/schemas``)."""
    if os.environ.get("OGCSDL_SCHEMAS"):
        return Path(os.environ["OGCSDL_SCHEMAS"])
    for parent in Path(__file__).resolve().parents[1:]:
        if (parent / "shared" / "schemas").is_dir():
            return parent / "shared" / "schemas"
    return Path("shared") / "schemas"
