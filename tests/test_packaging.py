"""The installed package is the whole package: every folder of gp_opt/ with an __init__.py is
listed in setup.cfg (a non-editable ``pip install .`` installs only the listed ones)."""
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_setup_cfg_lists_every_subpackage():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = {p.strip() for p in cfg["options"]["packages"].split() if p.strip()}
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "gp_opt").rglob("__init__.py")}
    assert found - listed == set(), f"add to setup.cfg [options] packages: {sorted(found - listed)}"
