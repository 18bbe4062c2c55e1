"""The registry of how genomes render in a notebook (``_repr_latex_``, ``_repr_png_``, ``_repr_svg_``).

The genome sits below the symbolic view and the figures in the data flow, so it cannot import
them; :mod:`gp_opt.display` (imported with the ``gp_opt`` package) registers here the functions
that turn a genome into LaTeX and into a PNG of its graph, and the genome classes ask for them.
This module imports nothing, so that importing ``gp_opt`` stays cheap.
"""
from __future__ import annotations

from typing import Any, Callable

_RENDERERS: dict[str, Callable[[Any], Any]] = {}


def register(kind: str, render: Callable[[Any], Any]) -> None:
    """Make ``render(genome)`` the genome's ``kind`` form (``"latex"``, ``"png"`` or ``"svg"``)."""
    _RENDERERS[kind] = render


def render(kind: str, genome: Any) -> Any:
    """The registered ``kind`` form of ``genome``; None (no such display) when none is registered."""
    fn = _RENDERERS.get(kind)
    return None if fn is None else fn(genome)
