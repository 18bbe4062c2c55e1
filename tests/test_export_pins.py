"""The exported torch and optax sources of the catalog are byte for byte the pinned ones.

The code generators (the lowering, the torch and JAX printers, the optax runtime) may be
reshaped, but what ``gp-opt export NAME --torch/--optax`` writes must not change unless the
change is meant (then regenerate the pins: see :mod:`support.export_pins`).
"""
from __future__ import annotations

from support.export_pins import digests, export_sources, read_pins

from gp_opt import catalog


def test_every_catalog_entry_is_pinned():
    assert sorted(read_pins()) == sorted(catalog.names())


def test_exported_sources_are_byte_equal_to_the_pins():
    pins = read_pins()
    now = digests(export_sources())
    changed = [f"{name} --{kind}" for name in sorted(pins) for kind in ("torch", "optax")
               if now.get(name, {}).get(kind) != pins[name][kind]]
    assert not changed, ("exported sources differ from tests/data/export_pins.json (compare with "
                         "`python -m tests.support.export_pins --dump DIR` before and after): "
                         + ", ".join(changed))
