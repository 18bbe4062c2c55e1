"""The scratch-buffer form of a step: its temporaries written into preallocated buffers.

On CPU every fresh slice-sized temporary costs page faults (glibc hands big blocks back to the
OS and faults them in again), which dominated the step. The body of the step function is
rewritten, expression by expression, into calls writing into a small pool of preallocated
scratch buffers (``torch.mul(a, b, out=scratch[0])``). Same kernels, same order: bit-identical
results. Anything the rewrite does not recognise is left as it was (and allocates).
"""
from __future__ import annotations

import ast as _ast

_BINOPS = {_ast.Add: "add", _ast.Sub: "sub", _ast.Mult: "mul", _ast.Div: "div", _ast.Pow: "pow",
           _ast.Mod: "remainder"}


def _torch_call_name(node: _ast.AST) -> str | None:
    """``torch.exp`` / ``torch.special.i1e`` -> the dotted name; other calls -> None."""
    parts = []
    while isinstance(node, _ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, _ast.Name) and node.id == "torch" and 1 <= len(parts) <= 2:
        name = ".".join(["torch"] + parts[::-1])
        if len(parts) == 1 or parts[1] == "special":
            return name
    return None


def scratch_lines(lines: list[str], full: set[str], tail: list[str]) -> tuple[list[str], int] | None:
    """Rewrite assignment lines to write into ``scratch[i]``; returns (lines, pool size).

    ``full`` names the variables known to hold full-shape tensors on entry; ``tail`` are the
    lines that follow (read only, for liveness). None when the lines reassign a name.
    """
    parsed = []
    for line in lines:
        tree = _ast.parse(line.split("  #")[0].strip() if "  #" in line else line.strip())
        stmt = tree.body[0]
        parsed.append(stmt)
    targets = [s.targets[0].id for s in parsed if isinstance(s, _ast.Assign)
               and len(s.targets) == 1 and isinstance(s.targets[0], _ast.Name)]
    if len(targets) != len(set(targets)):
        return None
    last_use: dict[str, int] = {}
    for i, stmt in enumerate(parsed + [_ast.parse("\n".join(tail))]):
        for n in _ast.walk(stmt):
            if isinstance(n, _ast.Name) and isinstance(n.ctx, _ast.Load):
                last_use[n.id] = i
    full = set(full)
    free: list[int] = []
    size = 0
    held: dict[str, int] = {}   # variable -> scratch index

    def take() -> int:
        nonlocal size
        if free:
            return free.pop()
        size += 1
        return size - 1

    def kind(n: _ast.AST) -> str:
        if isinstance(n, _ast.Constant) and isinstance(n.value, (int, float)):
            return "num"
        if isinstance(n, _ast.Name):
            return "full" if n.id in full else ("num" if n.id.startswith("k_") else "?")
        return "?"

    def rw(n: _ast.AST) -> tuple[_ast.AST, str, int | None]:
        """(new node, kind, scratch index it holds if a temporary)."""
        def out_kw(args_tmp: list[int | None]) -> tuple[_ast.keyword, int]:
            tmps = [t for t in args_tmp if t is not None]
            idx = tmps[0] if tmps else take()
            for t in tmps[1:]:
                free.append(t)
            return _ast.keyword("out", _ast.parse(f"scratch[{idx}]", mode="eval").body), idx

        if isinstance(n, _ast.BinOp) and type(n.op) in _BINOPS:
            a, ka, ta = rw(n.left)
            b, kb, tb = rw(n.right)
            if ka != "full" and kb != "full":
                for t in (ta, tb):
                    if t is not None:
                        free.append(t)
                return _ast.BinOp(a, n.op, b), "?", None
            name = _BINOPS[type(n.op)]
            if ka == "num":   # number on the left: the reflected torch forms
                if name in ("add", "mul"):
                    a, b = b, a
                elif name == "sub":
                    name, a, b = "rsub", b, a
                elif name == "div":
                    kw, idx = out_kw([tb])
                    call = _ast.Call(_ast.parse("torch.reciprocal", mode="eval").body, [b], [kw])
                    node = _ast.Call(_ast.Attribute(call, "mul_", _ast.Load()), [a], [])
                    return node, "full", idx
                elif name != "pow":
                    return _ast.BinOp(a, n.op, b), "full", None
            kw, idx = out_kw([ta, tb])
            return _ast.Call(_ast.parse(f"torch.{name}", mode="eval").body, [a, b], [kw]), "full", idx
        if isinstance(n, _ast.UnaryOp) and isinstance(n.op, _ast.USub):
            a, ka, ta = rw(n.operand)
            if ka == "full":
                kw, idx = out_kw([ta])
                return _ast.Call(_ast.parse("torch.neg", mode="eval").body, [a], [kw]), "full", idx
            if ta is not None:
                free.append(ta)
            return _ast.UnaryOp(n.op, a), ka, None
        if isinstance(n, _ast.Call) and _torch_call_name(n.func) and not any(k.arg == "out" for k in n.keywords):
            new_args, kinds, tmps = [], [], []
            for arg in n.args:
                a, ka, ta = rw(arg)
                new_args.append(a); kinds.append(ka); tmps.append(ta)
            if "full" in kinds:
                kw, idx = out_kw(tmps)
                return _ast.Call(n.func, new_args, list(n.keywords) + [kw]), "full", idx
            for t in tmps:
                if t is not None:
                    free.append(t)
            return _ast.Call(n.func, new_args, n.keywords), "?", None
        if (isinstance(n, _ast.Call) and isinstance(n.func, _ast.Attribute)
                and isinstance(n.func.value, _ast.Name) and n.func.value.id == "ctx"
                and n.func.attr == "full"):
            args = [rw(a) for a in n.args]
            kw, idx = out_kw([])   # before freeing the arguments: out is zeroed before it reads them
            for _, _, t in args:
                if t is not None:
                    free.append(t)
            return _ast.Call(n.func, [a for a, _, _ in args], list(n.keywords) + [kw]), "full", idx
        if (isinstance(n, _ast.Call) and isinstance(n.func, _ast.Attribute)
                and isinstance(n.func.value, _ast.Name) and n.func.value.id == "ctx"
                and n.func.attr != "const"):
            return n, "full", None   # other engine ops return fresh full-shape tensors
        return n, kind(n), None

    out = []
    for i, (line, stmt) in enumerate(zip(lines, parsed)):
        comment = "  #" + line.split("  #", 1)[1] if "  #" in line else ""
        if isinstance(stmt, _ast.Assign) and isinstance(stmt.targets[0], _ast.Name):
            node, k, idx = rw(stmt.value)
            target = stmt.targets[0].id
            if k == "full":
                full.add(target)
            if idx is not None:
                held[target] = idx
            out.append(f"{target} = {_ast.unparse(node)}{comment}")
        else:
            out.append(line)
        for name, j in list(held.items()):
            if last_use.get(name, -1) <= i:
                free.append(held.pop(name))
    return out, size
