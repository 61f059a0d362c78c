"""Experiment families. Adding one: write a module with a `FAMILY` object that
implements :class:`eqvbench.families.base.Family` and list it in `_MODULES`."""

from __future__ import annotations

import importlib

from eqvbench.families.base import Family

_MODULES = {
    "rcs": "eqvbench.families.rcs",
    "floquet_ising": "eqvbench.families.floquet_ising",
    "otoc": "eqvbench.families.otoc",
    "circuit": "eqvbench.families.circuit",
}


def family_names() -> list[str]:
    return list(_MODULES)


def get_family(name: str) -> Family:
    return importlib.import_module(_MODULES[name]).FAMILY
