"""pycsw's configuration, parsed when the file changes rather than on every request
(runs INSIDE pycsw's interpreter; imports only pycsw and the standard library).

``server.Csw`` reads and parses ``pycsw.cfg`` for each request and then loads the
``[repository] mappings`` module from its path, executing it again (a fresh StaticContext
and a deep copy of its model): about 1.5 ms of CPU per request. pycsw also takes a
``ConfigParser`` instead of a path: each request gets a fresh parser filled from the
file's values as last read (re-read when its modification time or size changes, so an
edited file still takes effect on the next request), with our mappings module named by
its module name (``pycsw_mappings``, importable beside this file), which Python imports
once.
"""

import configparser
import os

from pycsw.server import EnvInterpolation

HERE = os.path.dirname(os.path.abspath(__file__))
MAPPINGS_FILE = os.path.join(HERE, "pycsw_mappings.py")

_read: dict = {}  # "key": (path, mtime, size), "values": the sections


def _values(path):
    """The file's sections as raw strings, or None when it cannot be read (pycsw then
    reads it itself and reports the failure as it always does)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    key = (path, status.st_mtime_ns, status.st_size)
    if _read.get("key") != key:
        parser = configparser.ConfigParser(interpolation=EnvInterpolation())
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except (OSError, UnicodeError, configparser.Error):
            return None
        values = {name: dict(parser.items(name, raw=True)) for name in parser.sections()}
        repository = values.get("repository", {})
        mappings = repository.get("mappings", "")
        if mappings and os.path.abspath(mappings) == MAPPINGS_FILE:
            repository["mappings"] = "pycsw_mappings"  # imported once, not executed per request
        _read.clear()
        _read.update(key=key, values=values)
    return _read["values"]


def configuration(path):
    """What to hand ``server.Csw``: a fresh parser of the file's current values, or the
    path itself when it cannot be read."""
    values = _values(path)
    if values is None:
        return path
    parser = configparser.ConfigParser(interpolation=EnvInterpolation())
    parser.read_dict(values)
    return parser
