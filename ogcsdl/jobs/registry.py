"""The process registry as the suite sees it, and the one place where the processors'
own errors (``processes.errors``) become OGC errors.

``processes/`` does not import ``ogcsdl``: its registry, input validation and processors
raise :class:`~processes.errors.ProcessError` subclasses, and every call from the suite
into them goes through :class:`Registry` (or :func:`service_error` for ``run``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ogcsdl.config import Settings
from ogcsdl.errors import (
    ConfigError,
    InvalidParameterValue,
    MissingParameterValue,
    NotFound,
    OgcsdlError,
)
from processes import registry as processes_registry
from processes.base import ProcessDescription, Processor
from processes.errors import (
    MissingProcessInput,
    ProcessConfigError,
    ProcessError,
    ProcessInputError,
    UnknownProcess,
)


class NoSuchProcess(NotFound):
    """OGC API - Processes ``NoSuchProcess`` (404); WPS reports it as InvalidParameterValue."""

    code = "NoSuchProcess"
    status = 404


# Most specific first: MissingProcessInput is also a ProcessInputError.
_OGC_ERRORS: tuple[tuple[type[ProcessError], Callable[[str, str | None], OgcsdlError]], ...] = (
    (MissingProcessInput, MissingParameterValue),
    (ProcessInputError, InvalidParameterValue),
    (UnknownProcess, NoSuchProcess),
    (ProcessConfigError, ConfigError),
)


def service_error(exc: ProcessError) -> OgcsdlError:
    """The OGC error for a processor's error (a failed processor: NoApplicableCode)."""
    for kind, ogc_error in _OGC_ERRORS:
        if isinstance(exc, kind):
            return ogc_error(exc.message, exc.locator)
    return OgcsdlError(exc.message, exc.locator)


@contextmanager
def as_service_errors() -> Iterator[None]:
    try:
        yield
    except ProcessError as exc:
        raise service_error(exc) from None


@dataclass
class Registry:
    processors: dict[str, Processor]

    def get(self, process_id: str) -> Processor:
        with as_service_errors():
            return processes_registry.get_processor(self.processors, process_id)

    def descriptions(self) -> list[ProcessDescription]:
        return [processor.description for processor in self.processors.values()]

    def validate(
        self, description: ProcessDescription, raw_inputs: dict[str, Any]
    ) -> dict[str, Any]:
        with as_service_errors():
            return processes_registry.validate_inputs(description, raw_inputs)


@lru_cache(maxsize=8)
def _load(extra: tuple[str, ...]) -> Registry:
    with as_service_errors():
        return Registry(processes_registry.load_registry(list(extra)))


def load(settings: Settings) -> Registry:
    """The registry for these settings (cached per process: processors are stateless)."""
    return _load(tuple(settings.processing.extra_processors))
