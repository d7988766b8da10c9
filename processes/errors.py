"""The processors' own errors. ``processes/`` knows nothing of the web suite around it:
the job system maps these to OGC exceptions in one place
(:func:`ogcsdl.jobs.registry.service_error`)."""

from __future__ import annotations


class ProcessError(Exception):
    """Something a processor or the registry reports; ``locator`` names the input or
    setting at fault."""

    def __init__(self, message: str, locator: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.locator = locator

    def __str__(self) -> str:
        return self.message


class ProcessInputError(ProcessError, ValueError):
    """An input is wrong: the caller's mistake (a 400 at the web edge)."""


class MissingProcessInput(ProcessInputError):
    """A required input was not given."""


class UnknownProcess(ProcessError, LookupError):
    """No process has this id."""


class ProcessConfigError(ProcessError, ValueError):
    """An extra processor named in the configuration cannot be loaded."""


class ProcessFailed(ProcessError, RuntimeError):
    """The processor could not produce its outputs from valid inputs."""
