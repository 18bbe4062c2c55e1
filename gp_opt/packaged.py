"""The data folders gp_opt ships: the default grammar (``grammar/``) and the paper's optimizers
(``results/paper/``), installed as the packages ``gp_opt._grammar`` and ``gp_opt._paper``.

An install (``pip install .`` or ``-e .``) maps those packages onto the folders. A source tree
imported from ``sys.path`` -- a benchmark run as ``python benchmarks/X.py``, which puts the
repository first on the path, or ``PYTHONPATH=checkout`` -- has no such mapping, so the folder
beside the ``gp_opt`` package is read instead: the same files either way.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

#: package name -> the folder of a source checkout it is installed from (setup.cfg's package_dir)
FOLDERS = {"gp_opt._grammar": "grammar", "gp_opt._paper": "results/paper"}


def files(package: str) -> Any:
    """A traversable of ``package``'s files (:func:`importlib.resources.files`), or of the
    checkout's folder when the package is not installed."""
    try:
        return resources.files(package)
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parents[1] / FOLDERS[package]
        if not folder.is_dir():
            raise
        return folder
