"""Module boundaries stay clean (issue 25): no import cycle among gp_opt's modules, counting imports
inside functions, and no module reaching for another module's private ``_name``.

Read from the source with ``ast``, nothing imported. An edge ``a -> b`` is any ``import`` or
``from ... import`` in ``a`` (module level or inside a function) that names module ``b`` (``from
pkg import x`` names ``pkg.x`` when that is a module, else ``pkg``). A package's ``__init__``
importing its own submodules is no cycle by itself: only an edge written in the code counts, not
the implicit import of a parent package. A private name is one with a single leading underscore,
imported from another module (``from m import _x``) or read off an imported module (``m._x``).
"""
from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _modules(root: Path, package: str) -> dict[str, Path]:
    top = (root / package).resolve()
    out = {}
    for p in (root / package).rglob("*.py"):
        if not p.resolve().is_relative_to(top):
            continue  # gp_opt/_grammar, gp_opt/_paper: links to data folders elsewhere
        rel = p.relative_to(root).with_suffix("").parts
        out[".".join(rel[:-1] if rel[-1] == "__init__" else rel)] = p
    return out


def _resolve(mod: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = mod.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def scan(root: Path, package: str = "gp_opt"):
    """``(edges, private)``: ``edges[a]`` = ``{b: line}`` over the package's modules, and every
    ``(module, line, owner, name)`` where a module uses another module's private name."""
    mods = _modules(root, package)
    edges: dict[str, dict[str, int]] = {m: {} for m in mods}
    private = []
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_pkg = path.name == "__init__.py"
        aliases: dict[str, str] = {}  # local name -> the module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == package:
                        edges[mod].setdefault(a.name, node.lineno)
                        aliases[a.asname or a.name] = a.name
            elif isinstance(node, ast.ImportFrom):
                src = _resolve(mod, is_pkg, node.level, node.module)
                if src.split(".")[0] != package:
                    continue
                for a in node.names:
                    sub = f"{src}.{a.name}"
                    if sub in mods:
                        edges[mod].setdefault(sub, node.lineno)
                        aliases[a.asname or a.name] = sub
                    else:
                        edges[mod].setdefault(src, node.lineno)
                        if a.name.startswith("_") and not a.name.startswith("__") and src != mod:
                            private.append((mod, node.lineno, src, a.name))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases and node.attr.startswith("_") and not node.attr.startswith("__") \
                    and aliases[node.value.id] != mod:
                private.append((mod, node.lineno, aliases[node.value.id], node.attr))
    edges = {a: {b: ln for b, ln in bs.items() if b in mods and b != a} for a, bs in edges.items()}
    return edges, private


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _describe(comp: list[str], edges) -> str:
    return "; ".join(f"{a} -> {b} (line {ln})" for a in comp for b, ln in sorted(edges[a].items()) if b in comp)


def test_no_import_cycle_in_gp_opt():
    edges, _ = scan(REPO)
    found = cycles(edges)
    assert not found, "import cycles: " + " | ".join(_describe(c, edges) for c in found)


def test_no_module_uses_another_modules_private_names():
    _, private = scan(REPO)
    assert not private, "private names used across modules: " + ", ".join(
        f"{m}:{ln} uses {owner}.{name}" for m, ln, owner, name in private)


def test_the_checks_see_a_function_level_cycle_and_a_private_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg.a import A\n")
    (pkg / "a.py").write_text("A = 1\n\ndef f():\n    from pkg.sub.b import g\n    return g()\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from ..a import A as _A\nimport pkg.a as mod\n\n"
                                      "def g():\n    from pkg import a\n    return a._hidden + mod._other\n")
    (pkg / "c.py").write_text("from pkg.a import _secret\nfrom . import a\nx = a._x\n")
    edges, private = scan(tmp_path, "pkg")
    assert cycles(edges) == [["pkg.a", "pkg.sub.b"]]
    assert sorted((m, owner, name) for m, _, owner, name in private) == [
        ("pkg.c", "pkg.a", "_secret"), ("pkg.c", "pkg.a", "_x"), ("pkg.sub.b", "pkg.a", "_hidden"),
        ("pkg.sub.b", "pkg.a", "_other")]


#: old module -> its new home: the old names still import, with a DeprecationWarning
RENAMED = {
    "gp_opt.printer": "gp_opt.code_printer",
    "gp_opt.optim.optax": "gp_opt.optim.to_optax",
    "gp_opt.surrogate.paths": "gp_opt.surrogate.path_choice",
    "gp_opt.surrogate.report": "gp_opt.surrogate.console",
}


def test_no_module_of_gp_opt_imports_a_renamed_module():
    edges, _ = scan(REPO)
    users = sorted(f"{a} -> {b}" for a, bs in edges.items() for b in bs if b in RENAMED and a not in RENAMED)
    assert not users, "imports of deprecated modules: " + ", ".join(users)


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_a_renamed_module_still_imports_and_warns(old):
    new = importlib.import_module(RENAMED[old])
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=RENAMED[old].replace(".", r"\.")):
        shim = importlib.import_module(old)
    for name in shim.__all__:
        assert getattr(shim, name) is getattr(new, name, getattr(shim, name))


def test_the_benchmarks_use_no_private_name_of_gp_opt():
    found = []
    for path in sorted((REPO / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gp_opt":
                found += [f"{path.name}:{node.lineno} {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert not found, "private names of gp_opt in benchmarks/: " + ", ".join(found)
