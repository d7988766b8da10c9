"""The one process registry every processing interface (WPS, OGC API - Processes, the job
system) is built from: the built-in processors plus extra ones named ``module:Class`` in
the configuration (the pygeoapi ``load_plugin`` pattern: no fork needed to add one).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from processes.base import ProcessDescription, Processor, ProcessorFactory
from processes.errors import ProcessConfigError, UnknownProcess
from processes.validation import validate_inputs

__all__ = [
    "builtin_processors",
    "get_processor",
    "load_processor_class",
    "load_registry",
    "validate_inputs",
]


def builtin_processors() -> dict[str, ProcessorFactory]:
    """Factories of the processors shipped with the suite, by process id."""
    from processes.change_detection import ChangeDetection
    from processes.cloud_mask import CloudMask
    from processes.echo import Echo
    from processes.flood_mapping import FloodMapping

    return {cls.description.id: cls for cls in (Echo, CloudMask, ChangeDetection, FloodMapping)}


def load_processor_class(path: str) -> ProcessorFactory:
    """Import ``package.module:ClassName`` (a dotted ``package.module.ClassName`` works too)."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ProcessConfigError(
            f"processes.extra: '{path}' is not of the form 'package.module:Class'."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProcessConfigError(
            f"processes.extra: cannot import module '{module_name}' ({exc})."
        ) from exc
    factory = getattr(module, attr, None)
    if factory is None:
        raise ProcessConfigError(f"processes.extra: module '{module_name}' has no '{attr}'.")
    if not callable(factory):
        raise ProcessConfigError(f"processes.extra: '{path}' is not a class or factory.")
    return factory


def load_registry(extra: Iterable[str] = ()) -> dict[str, Processor]:
    """Instantiated processors by id: the built-ins plus ``extra`` (``module:Class``)."""
    factories: dict[str, tuple[str, ProcessorFactory]] = {
        pid: ("built-in", factory) for pid, factory in builtin_processors().items()
    }
    registry: dict[str, Processor] = {}
    for path in extra:
        factory = load_processor_class(path)
        try:
            processor = factory()
        except Exception as exc:  # noqa: BLE001 - any failure of a plug-in is a config error
            raise ProcessConfigError(
                f"processes.extra: '{path}' could not be created ({exc})."
            ) from exc
        description = getattr(processor, "description", None)
        if not isinstance(description, ProcessDescription) or not callable(
            getattr(processor, "run", None)
        ):
            raise ProcessConfigError(
                f"processes.extra: '{path}' is not a processor (needs a ProcessDescription "
                "'description' and a 'run(inputs, context)' method)."
            )
        if description.id in factories or description.id in registry:
            raise ProcessConfigError(
                f"processes.extra: '{path}' reuses the process id '{description.id}'."
            )
        registry[description.id] = processor
    builtins = {pid: factory() for pid, (_, factory) in factories.items()}
    return {**builtins, **registry}


def get_processor(registry: dict[str, Processor], process_id: str) -> Processor:
    try:
        return registry[process_id]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise UnknownProcess(
            f"There is no process '{process_id}'; known processes: {known}.", locator=process_id
        ) from None
