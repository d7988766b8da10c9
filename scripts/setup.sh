#!/usr/bin/env bash
# Creates the two Python environments the suite needs, pinned by requirements/*.lock.txt:
#   .venv            the suite (pygeoapi, pywps, MapProxy, rasterio, Dask, ...)
#   .venv-catalogue  pycsw 2.6.2, which needs SQLAlchemy 1.4 / OWSLib < 0.29 and so
#                    cannot share an environment with pywps (SQLAlchemy >= 2, OWSLib >= 0.35)
# With --system it also installs the Debian packages the tests use (PostGIS, GDAL
# command-line clients, QGIS Python bindings, nginx); that needs root and is not needed for the demo.
# Re-running is cheap: an environment is rebuilt only when its lock file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup: ogcsdl needs Python 3.11 (pygeoapi 0.21 and pycsw 2.6 are pinned for it)." >&2
  echo "       Set PYTHON=/path/to/python3.11 and run again." >&2
  exit 1
fi

if [ "${1:-}" = "--system" ]; then
  missing=()
  [ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
  [ -f /usr/share/postgresql/15/extension/postgis.control ] || missing+=(postgresql-15-postgis-3)
  command -v gdalinfo >/dev/null || missing+=(gdal-bin)
  # QGIS 3.22 headless, a real GIS client for the view tests (Debian's /usr/bin/python3).
  /usr/bin/python3 -c "import qgis.core" 2>/dev/null || missing+=(python3-qgis)
  # nginx, the buffering front proxy before gunicorn (tests/test_front_proxy_live.py).
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "setup: need Debian packages ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
      exit 1
    fi
    echo "setup: installing ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

make_env() {  # make_env DIR LOCK PIP-ARGS...
  local dir=$1 lock=$2; shift 2
  local stamp="$dir/.ogcsdl-stamp" want
  want=$(cat "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  if [ ! -x "$dir/bin/python" ]; then
    echo "setup: creating $dir (pinned by $lock)"
    "$PYTHON" -m venv "$dir"
  else
    echo "setup: updating $dir (pinned by $lock)"
  fi
  "$dir/bin/pip" install -q --disable-pip-version-check --upgrade "pip<27" 2>&1 | grep -v "is ignored" || true
  "$dir/bin/pip" install -q --disable-pip-version-check "$@" 2>&1 | grep -v "is ignored" || true
  "$dir/bin/python" -c "import sys" && echo "$want" > "$stamp"
}

make_env .venv requirements/main.lock.txt -c requirements/main.lock.txt -e '.[dev]'
.venv/bin/python -c "import ogcsdl, pywps, pygeoapi, mapproxy, rasterio, distributed" \
  || { echo "setup: the main environment is incomplete; delete .venv and run again" >&2; exit 1; }
make_env .venv-catalogue requirements/catalogue.lock.txt -r requirements/catalogue.lock.txt
.venv-catalogue/bin/python -c "import pycsw, sqlalchemy; assert sqlalchemy.__version__.startswith('1.4')" \
  || { echo "setup: the catalogue environment is incomplete; delete .venv-catalogue and run again" >&2; exit 1; }
echo "setup: environments ready (.venv, .venv-catalogue)"
