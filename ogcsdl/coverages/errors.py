"""WCS 2.0.1 exception codes (OGC 09-110r4 Table 18 and the extensions), each with the
HTTP status the standard gives it."""

from __future__ import annotations

from ogcsdl.errors import InvalidParameterValue, NotFound, OgcsdlError


class NoSuchCoverage(NotFound):
    code = "NoSuchCoverage"
    status = 404


class InvalidAxisLabel(OgcsdlError, ValueError):
    code = "InvalidAxisLabel"
    status = 404


class InvalidSubsetting(OgcsdlError, ValueError):
    code = "InvalidSubsetting"
    status = 404


class InvalidScaleFactor(OgcsdlError, ValueError):
    code = "InvalidScaleFactor"
    status = 404


class InvalidExtent(OgcsdlError, ValueError):
    code = "InvalidExtent"
    status = 404


class ScalingAxisNotDefined(OgcsdlError, ValueError):
    code = "ScalingAxisNotDefined"
    status = 404


class NoSuchField(OgcsdlError, ValueError):
    code = "NoSuchField"
    status = 404


class SubsettingCrsNotSupported(OgcsdlError, ValueError):
    code = "SubsettingCrs-NotSupported"
    status = 404


class OutputCrsNotSupported(OgcsdlError, ValueError):
    code = "OutputCrs-NotSupported"
    status = 404


class InvalidEncodingSyntax(InvalidParameterValue):
    code = "InvalidEncodingSyntax"
    status = 400


class FormatNotSupported(InvalidParameterValue):
    code = "InvalidParameterValue"
    status = 415
