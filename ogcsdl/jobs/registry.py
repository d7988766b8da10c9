"""Access to the process registry named in the configuration.

The registry module (``processing.registry``, by default ``processes.registry``) offers
``load_registry(extra)``, ``get_processor(registry, id)`` and
``validate_inputs(description, raw_inputs)``. It is named in the settings, not imported
here directly, so a deployment (or a test) can add or swap processors without a fork.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

from ogcsdl.config import Settings
from processes.base import ProcessDescription, Processor


@lru_cache(maxsize=8)
def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


@dataclass
class Registry:
    module: ModuleType
    processors: dict[str, Processor]

    def get(self, process_id: str) -> Processor:
        processor: Processor = self.module.get_processor(self.processors, process_id)
        return processor

    def descriptions(self) -> list[ProcessDescription]:
        return [processor.description for processor in self.processors.values()]

    def validate(
        self, description: ProcessDescription, raw_inputs: dict[str, Any]
    ) -> dict[str, Any]:
        validated: dict[str, Any] = self.module.validate_inputs(description, raw_inputs)
        return validated


@lru_cache(maxsize=8)
def _load(module_name: str, extra: tuple[str, ...]) -> Registry:
    module = _module(module_name)
    return Registry(module, module.load_registry(list(extra)))


def load(settings: Settings) -> Registry:
    """The registry for these settings (cached per process: processors are stateless)."""
    return _load(settings.processing.registry, tuple(settings.processing.extra_processors))
