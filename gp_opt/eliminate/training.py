"""How a round's entries are trained: the surrogate protocol at the round's config, in this
process or spread over an executor's workers, one shared ensemble per group where it pays."""
from __future__ import annotations

from typing import Any, Callable, Iterable

Evaluator = Callable[[list[Any], Any], list[Any]]  # (optimizers, SurrogateConfig) -> FitnessRecords


class SurrogateCall:
    """One round's surrogate evaluation: ``call(optimizer) -> record``, ``call.many(optimizers)``
    (shared ensembles where the path rule or ``batched`` says they help). Picklable, so an
    executor's worker (a process pool, a Ray actor) runs it on its own device."""

    def __init__(self, cfg: Any, batched: bool | None):
        self.cfg = cfg
        self.batched = batched

    def many(self, optimizers: list[Any]) -> list[Any]:
        from gp_opt.surrogate import evaluate_many
        from gp_opt.surrogate.path_choice import choose_batched

        use = choose_batched(self.cfg) if self.batched is None else self.batched
        cfg = self.cfg.replace(batched=use)
        if use:
            return evaluate_many(list(optimizers), cfg)
        return [evaluate_many([o], cfg)[0] for o in optimizers]

    def __call__(self, optimizer: Any) -> Any:
        return self.many([optimizer])[0]


def ensemble_map(call: SurrogateCall, optimizers: Iterable[Any]) -> list[Any]:
    """The batched map an executor hands each group to: the group trains as one ensemble."""
    return call.many(list(optimizers))


def surrogate_evaluator(batched: bool | None, executor: Any = None) -> Evaluator:
    """In this process, or spread over ``executor``'s workers (a group of a round's entries per
    worker, each group one ensemble); records come back in submission order either way."""
    def run(optimizers: list[Any], cfg: Any) -> list[Any]:
        call = SurrogateCall(cfg, batched)
        if executor is None:
            return call.many(optimizers)
        return list(executor.map(call, optimizers, ensemble_map))

    return run

