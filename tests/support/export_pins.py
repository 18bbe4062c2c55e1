"""The exported standalone sources of every catalog entry, pinned by their SHA-256.

``gp-opt export NAME --torch/--optax`` (:func:`gp_opt.optim.export_torch`,
:func:`gp_opt.optim.to_optax.export_optax`) must write the same bytes for each catalog entry while
the code generators are reshaped; ``tests/data/export_pins.json`` holds the hashes taken before.

Regenerate the pins (only when a change to the generated code is meant, and say why in the
commit): ``PYTHONPATH=. python -m tests.support.export_pins --write``. Write the sources out to
compare two versions with ``diff -r``: ``... --dump DIR``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

PINS = Path(__file__).resolve().parent.parent / "data" / "export_pins.json"


def export_sources() -> dict[str, dict[str, str]]:
    """``{name: {"torch": source, "optax": source}}`` for every catalog entry, named as the CLI names it."""
    from gp_opt import catalog
    from gp_opt.optim import export_torch
    from gp_opt.optim.to_optax import export_optax

    out = {}
    for name in catalog.names():
        genome = catalog.get(name)
        out[name] = {"torch": export_torch(genome, None, name=name),
                     "optax": export_optax(genome, None, name=name)}
    return out


def digests(sources: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The SHA-256 of each source's UTF-8 bytes."""
    return {name: {kind: hashlib.sha256(src.encode()).hexdigest() for kind, src in kinds.items()}
            for name, kinds in sources.items()}


def read_pins() -> dict[str, dict[str, str]]:
    return json.loads(PINS.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"rewrite {PINS.name} from the current code")
    ap.add_argument("--dump", metavar="DIR", help="write each source to DIR/NAME.torch.py, DIR/NAME.optax.py")
    args = ap.parse_args(argv)
    sources = export_sources()
    if args.dump:
        out = Path(args.dump)
        out.mkdir(parents=True, exist_ok=True)
        for name, kinds in sources.items():
            for kind, src in kinds.items():
                (out / f"{name}.{kind}.py").write_text(src)
    if args.write:
        PINS.write_text(json.dumps(digests(sources), indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
