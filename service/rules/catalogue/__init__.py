"""The rule catalogue: one module per family of rules, each rule one SQL statement.

Importing this package registers every implementation in `base.REGISTRY`."""

from __future__ import annotations

import importlib

from service.rules.catalogue.base import REGISTRY, RuleDefinition

FAMILIES = (
    "declarations",
    "venue",
    "siting",
    "territory",
    "care",
    "provider",
    "fees",
    "accessibility",
    "location",
    "freshness",
)

for _family in FAMILIES:
    try:
        importlib.import_module(f"{__name__}.{_family}")
    except ModuleNotFoundError as error:  # a family not written yet: its rules stay unregistered
        if error.name != f"{__name__}.{_family}":
            raise

__all__ = ["FAMILIES", "REGISTRY", "RuleDefinition"]
