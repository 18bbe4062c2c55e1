"""``EvolvedOptimizer``: any genome as a ``torch.optim.Optimizer`` (SPEC section 1).

How a step runs. The genome is compiled once (:mod:`gp_opt.optim.compile`) into one straight-line
function. Parameters with a gradient are put in *buckets*: one per (device, dtype, update count)
holding every such parameter of every group. A bucket owns one flat buffer per state (moving
averages, stateful nodes, momentum) and one for the gradients (and the weights when an operand
reads them); the per-parameter entries of ``optimizer.state[p]`` are views into those buffers, so
``state_dict()`` is the ordinary per-parameter torch format. Each step copies the gradients into
the flat buffer (one ``_foreach_copy_``), runs the genome's function once on the whole buffer and
adds the result to the parameters (one ``_foreach_add_``): the Python work per step does not grow
with the graph size times the number of parameter tensors.

Schedules: group ``g`` at its step ``t`` (``group['step']``, counting ``step()`` calls) uses
``lr_t = group['lr'] * base_lr_factor(t, T, W, H)`` (``base_schedule=False``: ``group['lr']``
as is, for an external scheduler), the one-cycle momentum ``mu_t`` (``momentum_schedule=False``:
0.9, or a number: that constant), and each decay function ``d(t)`` from a table computed once.
Past the end of the run (``t >= T``) every schedule stays at its step ``T - 1`` value.
Bias corrections (moving averages, the ``ema`` op) use the parameter's own update count (the
number of steps it had a gradient), like ``torch.optim.Adam``.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Iterable

import torch

from gp_opt.errors import GpOptError, OptimizerError
from gp_opt.catalog import load_file
from gp_opt.genome import OptimizerGenome
from gp_opt.genome.found import learning_rate
from gp_opt.optim.compile import CompiledGenome, FlatCtx, compile_genome
from gp_opt.optim.schedules import check_steps, base_lr_table, momentum_table

__all__ = ["EvolvedOptimizer"]

_LOW_PRECISION = (torch.bfloat16, torch.float16)
#: The chunk size of a genome with a tensorwise op (norm): one slice, the whole buffer.
WHOLE = "whole"


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in _LOW_PRECISION else dtype


class _Bucket:
    """Parameters sharing (device, real dtype, update count), laid out back to back.

    A complex parameter is stepped through ``torch.view_as_real`` (its real and imaginary parts
    are two entries), like torch's own optimizers; its state entries are real views too.
    """

    def __init__(self, params: list[torch.Tensor], group_ids: list[int], n: int,
                 compiled: CompiledGenome, opt_state: dict):
        self.params = params
        self.complex = [p.is_complex() for p in params]
        self.any_complex = any(self.complex)
        # what the step writes into: the parameter, or its real view
        self.targets = [_real(p) for p in params]
        self.n = n
        p0 = self.targets[0]
        self.device, self.pdtype = p0.device, p0.dtype
        self.dtype = _compute_dtype(p0.dtype)
        self.sizes = [p.numel() for p in self.targets]
        self.numel = sum(self.sizes)
        # contiguous runs of groups (params are ordered by group)
        runs: list[list[int]] = []
        for gid, size in zip(group_ids, self.sizes):
            if runs and runs[-1][0] == gid:
                runs[-1][1] += size
                runs[-1][2] += 1
            else:
                runs.append([gid, size, 1])
        self.group_runs = [r[0] for r in runs]
        self.run_sizes = torch.tensor([r[1] for r in runs], dtype=torch.long, device=self.device)
        # per run: (first element, end element) of the flat buffers and its parameters' targets
        self.run_bounds: list[tuple[int, int]] = []
        self.run_targets: list[list[torch.Tensor]] = []
        lo = first = 0
        for _, size, count in runs:
            self.run_bounds.append((lo, lo + size))
            self.run_targets.append(self.targets[first:first + count])
            lo, first = lo + size, first + count
        kw = dict(dtype=self.dtype, device=self.device)
        self.gbuf = torch.empty(self.numel, **kw)
        self.gviews = self._views(self.gbuf)
        self.wbuf = torch.empty(self.numel, **kw) if compiled.needs_w else None
        self.wviews = self._views(self.wbuf) if compiled.needs_w else None
        self.state: dict[str, torch.Tensor] = {}
        self.needs_w = compiled.needs_w
        self.momentum = compiled.genome.momentum
        for key in compiled.state_keys:
            flat = torch.zeros(self.numel, **kw)
            for p, view in zip(params, self._views(flat)):
                old = opt_state[p].get(key)
                if old is not None:
                    view.copy_(_real(old) if old.is_complex() else old)
                opt_state[p][key] = view
            self.state[key] = flat
        self.ctx = FlatCtx(self.sizes, self.device)
        self.n_scratch = compiled.n_scratch
        self.chunks: list[tuple] | None = None
        self.dbuf: torch.Tensor | None = None

    def grads(self) -> list[torch.Tensor]:
        """This step's gradients, as real views where the parameter is complex."""
        if not self.any_complex:
            return [p.grad for p in self.params]
        return [_real(p.grad) if c else p.grad for p, c in zip(self.params, self.complex)]

    def set_chunking(self, chunk_size: int | None) -> None:
        """Run the step on cache-sized slices of the flat buffers (CPU; elementwise genomes only).

        Fresh large CPU tensors cost page faults on every allocation; slices of a few hundred
        thousand numbers are recycled by malloc and stay in cache. ``WHOLE``: one slice, the
        whole buffer, for genomes whose ``norm`` needs each whole tensor: the temporaries then go
        to whole-buffer scratch kept across steps (more memory, no page faults).
        """
        if chunk_size == WHOLE:   # one slice: the whole buffer (a genome with norm)
            chunk_size = self.numel if self.n_scratch else None
        elif chunk_size and self.numel <= chunk_size:
            chunk_size = None
        if not chunk_size:
            self.chunks, self.dbuf = None, None
            return
        bounds = list(range(0, self.numel, chunk_size)) + [self.numel]
        self.chunks = []
        # the momentum form's change is the momentum buffer itself: add that, no copy
        plain_m = self.momentum == "momentum"
        self.dbuf = self.state["m"] if plain_m else torch.empty(self.numel, dtype=self.dtype, device=self.device)
        self.dviews = self._views(self.dbuf)
        # one small pool of slice-sized scratch buffers, reused by every slice and step
        pool = [torch.empty(min(chunk_size, self.numel), dtype=self.dtype, device=self.device)
                for _ in range(self.n_scratch)]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            st = {k: v[lo:hi] for k, v in self.state.items()}
            self.chunks.append((lo, hi, self.gbuf[lo:hi], None if self.wbuf is None else self.wbuf[lo:hi],
                                st, st["m"] if plain_m else self.dbuf[lo:hi], [b[:hi - lo] for b in pool]))

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [v.view_as(p) for v, p in zip(flat.split(self.sizes), self.targets)]

    def per_element(self, values: list[float]) -> Any:
        """One value per group run -> a float (all equal) or a tensor over the flat buffer."""
        first = values[0]
        if all(v == first for v in values):
            return first
        vals = torch.tensor(values, dtype=self.dtype, device=self.device)
        return torch.repeat_interleave(vals, self.run_sizes, output_size=self.numel)


def _real(t: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(t) if t.is_complex() else t


def _part(value: Any, lo: int, hi: int) -> Any:
    return value[lo:hi] if isinstance(value, torch.Tensor) and value.dim() == 1 else value


class EvolvedOptimizer(torch.optim.Optimizer):
    """A genome (``OptimizerGenome``) as a PyTorch optimizer, SPEC section 1 exactly.

    Args:
        params: parameters or parameter groups. A group may override ``lr``, ``total_steps``,
            ``warmup_steps``, ``hold_steps``, ``momentum_schedule``, ``base_schedule``,
            ``weight_decay`` and ``maximize``.
        genome: the update equation, its decay functions, momentum type and sign.
        lr: the peak learning rate of the base one-cycle schedule: a number, or a one-element
            tensor of any shape (read with ``.item()`` once per group and step, as it may change).
        total_steps: ``T``, the run length the schedules and decay functions are laid over.
        warmup_steps, hold_steps: ``W`` and ``H`` of the base schedule and of ``mu_t``.
        momentum_schedule: True: the one-cycle momentum ``mu_t``; False: a constant 0.9; a
            number: that constant.
        base_schedule: False leaves ``group['lr']`` unscheduled (drive it with a torch
            ``LRScheduler`` such as :class:`~gp_opt.optim.EvolvedLR`).
        weight_decay: decoupled weight decay (AdamW/Lion style): each step first does
            ``w <- w - lr_t * weight_decay * w`` with ``lr_t`` the scheduled rate of the step,
            then adds the genome's change (computed from the weights before the decay). 0: none.
        maximize: step to maximise the objective (the gradients are negated), like torch's.
        compile: run the step function through ``torch.compile``.
        chunk_size: on CPU, run the step on slices of this many numbers at a time (``"auto"``:
            2**18 unless ``compile``; None: never). A genome with a ``norm`` op runs on the whole
            buffer at once instead, its temporaries in whole-buffer scratch buffers kept across
            steps (None: fresh tensors each step). The result is the same as one call over the
            whole buffer.
        foreach, fused, differentiable: torch's flags for its hand-written optimizers. A genome's
            step is always one generated function per bucket and never differentiable, so only
            their "off" values (None or False) are accepted; True raises
            :class:`~gp_opt.errors.OptimizerError`.

    Numbers: float32/float64 parameters are updated in their own precision; bfloat16/float16
    parameters keep float32 state and compute in float32 (rounded once when added to the
    weights). Complex parameters are stepped as ``torch.view_as_real`` (real and imaginary parts
    are separate entries, like torch's own optimizers; ``norm`` over the real view is the complex
    norm); their state entries are those real views. A complex parameter steps bit for bit like
    its ``view_as_real`` stepped as one real parameter. It does not step like its real and
    imaginary parts given as *two* parameters (torch's ``test_complex_2d``) when the genome has
    ``norm``: one norm over the whole complex tensor is not two norms over its halves (torch's
    suite skips LBFGS, its one optimizer with a reduction, for the same reason). NaN or inf produced by the genome is
    written to the weights as is.
    Dropout ops draw from torch's global RNG of the parameter's device: a resumed run repeats the
    uninterrupted one bit for bit when the RNG state is saved and restored along with the
    optimizer (``torch.get_rng_state()`` / ``torch.cuda.get_rng_state_all()``).

    ``copy.deepcopy`` and ``pickle`` keep the genome (as its JSON form and grammar) and rebuild
    the compiled step on the way back, so a copy steps exactly like the original.
    """

    def __init__(self, params: Iterable, genome: OptimizerGenome, lr: float | torch.Tensor,
                 total_steps: int, warmup_steps: int = 0, hold_steps: int = 0,
                 momentum_schedule: bool | float = True, base_schedule: bool = True,
                 weight_decay: float = 0.0, maximize: bool = False,
                 compile: bool = False, chunk_size: int | None | str = "auto",
                 foreach: bool | None = None, fused: bool | None = None, differentiable: bool = False):
        if not isinstance(genome, OptimizerGenome):
            raise TypeError(f"genome must be an OptimizerGenome, got {type(genome).__name__}")
        for flag, value in (("foreach", foreach), ("fused", fused), ("differentiable", differentiable)):
            if value not in (None, False):
                raise OptimizerError(
                    f"{type(self).__name__}: {flag}={value!r} is not supported: a genome's step is one "
                    f"generated function over each flat buffer (already fused across tensors) and is "
                    f"not differentiable; leave {flag} unset")
        _check_lr(lr, "lr")
        _check_weight_decay(weight_decay, "weight_decay")
        check_steps(total_steps, warmup_steps, hold_steps)
        defaults = dict(lr=lr, total_steps=int(total_steps), warmup_steps=int(warmup_steps),
                        hold_steps=int(hold_steps), momentum_schedule=momentum_schedule,
                        base_schedule=bool(base_schedule), weight_decay=weight_decay,
                        maximize=bool(maximize), step=0)
        super().__init__(params, defaults)
        self._build(genome, bool(compile), chunk_size)

    def _build(self, genome: OptimizerGenome, compile: bool, chunk_size: int | None | str) -> None:
        """Compile the genome's step (construction and unpickling)."""
        self.genome = genome
        self.compiled = compile_genome(genome)
        self._fn: Callable = self.compiled.step
        self._compile = compile
        if compile:
            self._fn = torch.compile(self.compiled.step, dynamic=True)
        tensorwise = "tensorwise" in self.compiled.lowering.op_kinds
        if chunk_size == "auto":
            chunk_size = None if compile else 2 ** 18
        self._chunk_option = chunk_size
        if tensorwise and chunk_size:
            chunk_size = WHOLE  # a reduction over each tensor cannot run on slices
        self.chunk_size = chunk_size
        self._layout_key: Any = None
        self._buckets: list[_Bucket] = []
        self._tables: dict[tuple, tuple[list[float], list[float]]] = {}

    # ---------------------------------------------------------------- torch contract
    @classmethod
    def from_file(cls, path, params: Iterable, lr: float | None = None, **kwargs) -> "EvolvedOptimizer":
        """The optimizer of a genome file (a run's ``best.json``, a hall-of-fame entry or any genome
        file), at ``lr`` or else the learning rate the file records (``meta.found.best_lr``); other
        keyword arguments (``total_steps``, ``warmup_steps``...) go to the optimizer."""
        genome = load_file(path)
        if lr is None:
            lr = learning_rate(genome)
            if lr is None:
                raise OptimizerError(f"{path}: the genome file records no learning rate (meta.found.best_lr); "
                                     f"pass lr=")
        return cls(params, genome, lr=lr, **kwargs)

    def add_param_group(self, param_group: dict) -> None:
        where = f"param group {len(self.param_groups)}"
        for key, check in (("lr", _check_lr), ("weight_decay", _check_weight_decay)):
            if key in param_group:
                check(param_group[key], f"{where}: {key}")
        super().add_param_group(param_group)
        self._layout_key = None

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._layout_key = None
        self._buckets = []

    def __getstate__(self) -> dict:
        # torch's base keeps only defaults, state and param_groups; the genome travels as its
        # JSON form plus its grammar's data (compiled functions cannot be pickled)
        state = super().__getstate__()
        state["_genome_data"] = _genome_data(self.genome)
        state["_options"] = {"compile": self._compile, "chunk_size": self._chunk_option}
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        data = state.pop("_genome_data", None)
        options = state.pop("_options", {"compile": False, "chunk_size": "auto"})
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("weight_decay", 0.0)
            group.setdefault("maximize", False)
        if data is not None:
            self._build(_genome_from_data(data), options["compile"], options["chunk_size"])
        self.__dict__.setdefault("_layout_key", None)

    # ---------------------------------------------------------------- schedules
    def _group_tables(self, group: dict) -> tuple[list[float], list[float]]:
        key = (group["total_steps"], group["warmup_steps"], group["hold_steps"])
        if key not in self._tables:
            check_steps(*key)
            self._tables[key] = (base_lr_table(*key), momentum_table(*key))
        return self._tables[key]

    def schedule(self, group: dict, t: int | None = None) -> dict[str, Any]:
        """The values group ``group`` uses at its step ``t`` (default: the next step)."""
        t = group["step"] if t is None else int(t)
        T = group["total_steps"]
        tc = min(max(t, 0), T - 1)
        base, mus = self._group_tables(group)
        peak = group["lr"]
        if isinstance(peak, torch.Tensor):
            peak = peak.item()  # one element (checked); it may have been changed in place
        lr = peak * (base[tc] if group["base_schedule"] else 1.0)
        ms = group["momentum_schedule"]
        mu = mus[tc] if ms is True else (0.9 if ms is False else float(ms))
        return {"lr": lr, "mu": mu, "decays": self.compiled.decay_values(tc, T)}

    # ---------------------------------------------------------------- layout
    def _layout(self) -> list[_Bucket]:
        entries = []
        for gid, group in enumerate(self.param_groups):
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("EvolvedOptimizer does not support sparse gradients")
                st = self.state[p]
                n = int(st.get("step", 0))
                entries.append((gid, p, n, group["step"] - n))
        key = tuple((gid, id(p), lag) for gid, p, _, lag in entries)
        if key != self._layout_key:
            by: dict[tuple, list] = {}
            for gid, p, n, _ in entries:
                by.setdefault((p.device, _real(p.detach()).dtype, n), []).append((gid, p))
            self._buckets = [_Bucket([p for _, p in items], [g for g, _ in items], n,
                                     self.compiled, self.state)
                             for (_, _, n), items in by.items()]
            for b in self._buckets:
                b.set_chunking(self.chunk_size if b.device.type == "cpu" else None)
            self._layout_key = key
        else:
            # same parameters and lags: every bucket's update count moved on together
            for b in self._buckets:
                b.n = int(self.state[b.params[0]].get("step", 0))
        return self._buckets

    # ---------------------------------------------------------------- step
    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        buckets = self._layout()
        groups = self.param_groups
        scheds = [self.schedule(g) for g in groups]
        fn = self._fn
        for b in buckets:
            runs = [scheds[gid] for gid in b.group_runs]
            lr = b.per_element([s["lr"] for s in runs])
            mu = b.per_element([s["mu"] for s in runs])
            d = [b.per_element([s["decays"][k] for s in runs]) for k in range(len(self.compiled.decays))]
            torch._foreach_copy_(b.gviews, b.grads())
            flips = [groups[gid]["maximize"] for gid in b.group_runs]
            if all(flips):
                b.gbuf.neg_()
            elif any(flips):
                for (lo, hi), flip in zip(b.run_bounds, flips):
                    if flip:
                        b.gbuf[lo:hi].neg_()
            if b.wbuf is not None:
                torch._foreach_copy_(b.wviews, b.targets)
            if b.chunks is None:
                b.ctx.bind(b.state, b.n, b.gbuf)
                delta = fn(b.gbuf, b.wbuf, b.state, b.ctx, b.n, lr, mu, d)
                self._decay_weights(b, runs)
                torch._foreach_add_(b.targets, b._views(delta))
            else:
                ctx = b.ctx
                fs = None if self._compile else self.compiled.step_scratch
                for lo, hi, g, w, st, out, scratch in b.chunks:
                    ctx.bind(st, b.n, g)
                    args = (g, w, st, ctx, b.n, _part(lr, lo, hi), _part(mu, lo, hi),
                            [_part(v, lo, hi) for v in d], out)
                    delta = fn(*args) if fs is None else fs(*args, scratch)
                    if delta is not out:
                        out.copy_(delta)
                self._decay_weights(b, runs)
                torch._foreach_add_(b.targets, b.dviews)
            for p in b.params:
                self.state[p]["step"] = b.n + 1
        for group in groups:
            group["step"] += 1
        return loss

    def _decay_weights(self, b: _Bucket, runs: list[dict]) -> None:
        """Decoupled weight decay: ``w <- (1 - lr_t * wd) w`` per group run, before the change."""
        for gid, sched, targets in zip(b.group_runs, runs, b.run_targets):
            wd = self.param_groups[gid]["weight_decay"]
            if isinstance(wd, torch.Tensor):
                wd = wd.item()
            if wd:
                torch._foreach_mul_(targets, 1.0 - sched["lr"] * wd)


# ---------------------------------------------------------------- argument checks


def _check_lr(lr: Any, where: str) -> None:
    """A number >= 0 or a one-element tensor (any shape) holding one, like torch's optimizers."""
    value = lr
    if isinstance(lr, torch.Tensor):
        if lr.numel() != 1:
            # torch's own wording (its optimizer test suite matches on it), then ours
            raise OptimizerError(f"{where}: Tensor lr must be 1-element (a tensor learning rate of "
                                 f"any shape holding one number), got shape {tuple(lr.shape)}")
        if lr.is_complex() or lr.dtype == torch.bool:
            raise OptimizerError(f"{where}: a tensor learning rate must be real, got {lr.dtype}")
        value = lr.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0.0:
        raise OptimizerError(f"{where}: invalid learning rate {lr!r} (need a number >= 0)")


def _check_weight_decay(wd: Any, where: str) -> None:
    value = wd.item() if isinstance(wd, torch.Tensor) and wd.numel() == 1 else wd
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0.0:
        raise OptimizerError(f"{where}: invalid weight decay {wd!r} (need a number >= 0)")


# ---------------------------------------------------------------- pickling the genome


def _genome_data(genome: OptimizerGenome) -> dict:
    """Everything needed to rebuild ``genome``: its JSON form and its grammar's source and data."""
    return {"genome": genome.to_dict(), "grammar_source": genome.grammar.source,
            "grammar_raw": genome.grammar.raw}


def _genome_from_data(data: dict) -> OptimizerGenome:
    from gp_opt import grammar as grammar_mod

    source, raw = data["grammar_source"], data["grammar_raw"]
    grammar = None
    try:  # the same file or the default grammar, when it still says the same (shared cache)
        candidate = grammar_mod.load(source)
        if candidate.raw == raw:
            grammar = candidate
    except GpOptError:
        pass
    if grammar is None:
        grammar = grammar_mod.from_dict(raw, source=source)
    return OptimizerGenome.from_dict(data["genome"], grammar)
