"""Batched graph evaluation: many genomes' nodes as one op call per op and node position."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from gp_opt.grammar import Grammar
from gp_opt.integrity.plan import Plan, PlanCtx, full_like, dropout_mask, operand_program


# ---------------------------------------------------------------- batched graph evaluation

class _Group:
    __slots__ = ("fn", "cand", "srcs", "decays", "names", "full", "uniform")

    def __init__(self, fn, cand, srcs, decays, names, full, uniform):
        self.fn, self.cand, self.srcs, self.decays = fn, cand, srcs, decays
        self.names, self.full, self.uniform = names, full, uniform


class GraphBatch:
    """Many genomes' update graphs evaluated together, step by step.

    Values live in one tensor ``[sources, candidates, *shape]``: first the operands any genome
    uses, then one slot per node position (each genome's active inner nodes in an order where
    inputs come first). ``update(g, w, state, t)`` returns every candidate's ``U`` (before the
    sign). The plans carry the decay tables, one value per step.
    """

    def __init__(self, plans: Sequence[Plan], grammar: Grammar, shape: tuple,
                 seed: int = 0, dtype=torch.float64):
        self.grammar = grammar
        self.C = len(plans)
        self.shape = tuple(shape)
        self.dtype = dtype
        self.seed = seed
        self.steps = len(plans[0].ts) if plans else 0
        used = set()
        for p in plans:
            used.update(p.operands)
        self.operands = [n for n in grammar.operands if n in used]
        self.program = operand_program(grammar, self.operands)
        n_op = len(self.operands)
        self.n_slots = max((len(p.order) for p in plans), default=0)
        self.values = torch.zeros((n_op + self.n_slots, self.C) + self.shape, dtype=dtype)
        index = {n: i for i, n in enumerate(self.operands)}
        view = (self.steps, -1) + (1,) * len(self.shape)
        ones = torch.ones(self.steps, dtype=dtype)

        positions = [{node: n_op + k for k, (node, _, _) in enumerate(p.order)} for p in plans]
        self.slots: list[list[_Group]] = []
        for j in range(self.n_slots):
            by_op: dict[str, list] = {}
            for c, (p, pos) in enumerate(zip(plans, positions)):
                if j < len(p.order):
                    node, op, edges = p.order[j]
                    by_op.setdefault(op, []).append((c, node, edges, pos))
            groups = []
            for op_name, members in by_op.items():
                op = grammar.op(op_name)
                cand = torch.tensor([c for c, *_ in members], dtype=torch.long)
                srcs, decays, uniform = [], [], []
                for a in range(op.arity):
                    idx = [index[e[a][0]] if e[a][0] in index else pos[e[a][0]]
                           for _, _, e, pos in members]
                    srcs.append(torch.tensor(idx, dtype=torch.long))
                    uniform.append(idx[0] if len(set(idx)) == 1 else None)
                    decs = [e[a][1] for _, _, e, _ in members]
                    if any(d is not None for d in decs):
                        tab = torch.stack([ones if d is None else d.to(dtype) for d in decs], dim=1)
                        decays.append(list(tab.reshape(view).unbind(0)))      # steps x [n_g, 1, ..]
                    else:
                        decays.append(None)
                groups.append(_Group(op.torch, cand, srcs, decays, [n for _, n, _, _ in members],
                                     len(members) == self.C, uniform))
            self.slots.append(groups)
        # Which sources must also live in the stacked tensor (read by a per-candidate gather,
        # written by several groups, or an output read per candidate); the rest stay as plain
        # tensors in ``self._cur`` (one genome, or identical structures: no copies at all).
        out_slots = [n_op + len(p.order) - 1 for p in plans]
        stacked = set()
        for j, groups in enumerate(self.slots):
            if len(groups) > 1 or not groups[0].full:
                stacked.add(n_op + j)
            for grp in groups:
                for src, uni in zip(grp.srcs, grp.uniform):
                    if uni is None:
                        stacked.update(int(i) for i in src.unique())
        self.out_uniform = out_slots[0] if len(set(out_slots)) == 1 else None
        if self.out_uniform is None:
            stacked.update(out_slots)
        self.stacked = [i in stacked for i in range(n_op + self.n_slots)]
        self.values = (torch.zeros((n_op + self.n_slots, self.C) + self.shape, dtype=dtype)
                       if stacked else None)
        self.out_slot = torch.tensor(out_slots, dtype=torch.long)
        self.arange = torch.arange(self.C)
        self._cur: list[Any] = [None] * (n_op + self.n_slots)
        self._consts: dict[str, torch.Tensor] = {}
        self.ctx = PlanCtx(self._masks)
        self._group_masks: dict[tuple, torch.Tensor] = {}

    def _masks(self, gid, call: int, p: float) -> torch.Tensor:
        key = (gid, call, p)
        mask = self._group_masks.get(key)
        if mask is None:
            grp = self.slots[gid[0]][gid[1]]
            mask = torch.stack([dropout_mask(self.seed, name, call, p, self.steps, self.shape, self.dtype)
                                for name in grp.names], dim=1)      # [steps, n_g, *shape]
            self._group_masks[key] = mask
        return mask

    def init_state(self) -> dict[str, torch.Tensor]:
        """Fresh moving averages and op states (call before step 0)."""
        self.ctx.state.clear()
        return self.program.init_state(torch.zeros((self.C,) + self.shape, dtype=self.dtype))

    def update(self, g: torch.Tensor, w: torch.Tensor, state: dict, t: int) -> torch.Tensor:
        """Advance the moving averages and return U for every candidate: ``[C, *shape]``."""
        V, cur, stacked = self.values, self._cur, self.stacked
        vals = self.program(g, w, state, t)
        for i, name in enumerate(self.operands):
            v = vals[name]
            if not isinstance(v, torch.Tensor):
                if name not in self._consts:   # a constant operand: one full tensor, made once
                    self._consts[name] = torch.full((self.C,) + self.shape, float(v), dtype=self.dtype)
                v = self._consts[name]
            elif v.shape != (self.C,) + self.shape:
                v = v.expand((self.C,) + self.shape)
            cur[i] = v
            if stacked[i]:
                V[i].copy_(v)
        n_op = len(self.operands)
        ctx = self.ctx
        for j, groups in enumerate(self.slots):
            slot = n_op + j
            dst = V[slot] if V is not None and stacked[slot] else None
            for k, grp in enumerate(groups):
                args = []
                for src, uni, dec in zip(grp.srcs, grp.uniform, grp.decays):
                    if uni is None:
                        x = V[src, grp.cand]
                    elif grp.full:
                        x = cur[uni]
                    else:
                        x = cur[uni].index_select(0, grp.cand)
                    if dec is not None:
                        x = x * dec[t]
                    args.append(x)
                ctx.begin((j, k), t)
                out = full_like(grp.fn(*args, ctx=ctx), args[0])
                if grp.full:
                    if dst is not None:
                        dst.copy_(out)
                    cur[slot] = out
                else:
                    dst.index_copy_(0, grp.cand, out)
            if not (len(groups) == 1 and groups[0].full):
                cur[slot] = dst
        if self.out_uniform is not None:
            return cur[self.out_uniform]
        return V[self.out_slot, self.arange]
