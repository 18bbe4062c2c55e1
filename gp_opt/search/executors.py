"""Executors: where the search's evaluations run.

The engine evaluates the new candidates of a time step with one ``toolbox.map(evaluate, payloads)``
call (after the fitness cache and the dedup check, so a duplicate never leaves the driver). An
executor takes that call over: :meth:`Executor.install` puts its own ``map`` on the toolbox, in
front of the toolbox's original one (the builtin ``map``, or a batched map such as the surrogate's
``SurrogateEvaluator.map`` that trains a group of children as one ensemble).

==================  ==========================================================================
``InProcess``       the default: the toolbox's own map, in this process, as before
``LocalPool``       a local process pool (``--workers N``)
``RayExecutor``     a Ray cluster (``--executor ray [--address auto|HOST:PORT]``); without an
                    address a local Ray instance is started
==================  ==========================================================================

Every executor submits all the candidates of a call at once and hands the results back in
submission order, so the search, its log and its checkpoints are the same whichever executor ran
it (up to timing fields). With a batched map the candidates go out in groups, one group per free
worker, and each group is evaluated by the original map on the worker (one ensemble there). Only
the driver writes the run directory: workers return records.

A worker lost during an evaluation (killed, out of memory, its node gone) costs a retry of that
evaluation, up to ``max_retries`` times; after that its candidates get a failed
:class:`~gp_opt.fitness.FitnessRecord` naming the cause and the search goes on. An exception
raised by the evaluation itself is a bug, not bad luck: it is raised on the driver as in-process.

>>> from gp_opt.search import make_toy_toolbox
>>> tb = make_toy_toolbox(dim=3)
>>> with InProcess() as ex:
...     ex.install(tb)
...     [r.fitness for r in tb.map(tb.evaluate, [(1, 2, 3), (0, 0, 1)])]
[-12.0, -17.0]
"""
from __future__ import annotations

import abc
import contextlib
import argparse
import collections
import math
import socket
from typing import Any, Callable, Iterable, Iterator

from ..errors import GpOptError
from ..fitness import FitnessRecord

EXECUTORS = ("inprocess", "pool", "ray")

#: retries of an evaluation whose worker was lost (Ray's ``max_retries``; the pool's restarts)
DEFAULT_MAX_RETRIES = 2


class ExecutorError(GpOptError):
    """An executor cannot start: Ray missing, a cluster unreachable, resources it does not have."""


def is_plain_map(fn: Any) -> bool:
    """Whether ``fn`` is the builtin ``map`` (one candidate at a time), not a batched map."""
    return fn is map


class _GroupCall:
    """``call(group) -> [record]``: the toolbox's original map over one group (runs on a worker)."""

    def __init__(self, inner_map: Callable[..., Iterable[Any]], func: Callable[[Any], Any]):
        self.inner_map = inner_map
        self.func = func

    def __call__(self, group: list[Any]) -> list[Any]:
        return list(self.inner_map(self.func, group))


def lost_record(reason: str, executor: str, attempts: int) -> FitnessRecord:
    """The failed record of a candidate whose evaluation was lost on every attempt."""
    return FitnessRecord.failed(f"evaluation lost {attempts} times ({executor}): {reason}",
                                extra={"executor": executor, "attempts": attempts})


class Executor(abc.ABC):
    """Runs a toolbox's evaluations. Use as a context manager, or :meth:`start` then :meth:`close`.

    :meth:`install` makes ``toolbox.map`` submit through the executor; :meth:`map` is that map,
    given the original one explicitly."""

    name = "executor"

    def __init__(self, max_retries: int = DEFAULT_MAX_RETRIES):
        if int(max_retries) < 0:
            raise ExecutorError(f"max_retries must be >= 0, got {max_retries}")
        self.max_retries = int(max_retries)

    def start(self) -> "Executor":
        """Connect or start workers (idempotent). Raises :class:`ExecutorError` if it cannot."""
        return self

    def close(self) -> None:
        """Stop what :meth:`start` started (a cluster joined is left running)."""

    def __enter__(self) -> "Executor":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def slots(self) -> int:
        """How many evaluations can run at once (the number of groups a batched call is cut in)."""
        return 1

    def install(self, toolbox: Any) -> None:
        """Route ``toolbox.map`` through this executor, keeping the toolbox's map as the inner one."""
        inner = toolbox.map
        if isinstance(inner, _Bound):  # installed before (e.g. by another executor)
            inner = inner.inner
        toolbox.map = _Bound(self, inner)

    @staticmethod
    def uninstall(toolbox: Any) -> None:
        """Give ``toolbox.map`` its original map back."""
        if isinstance(toolbox.map, _Bound):
            toolbox.map = toolbox.map.inner

    def groups(self, items: list[Any], inner_map: Any) -> list[list[Any]]:
        """The groups ``items`` go out in: one candidate each for a plain map, else the call's
        candidates cut into :attr:`slots` groups of nearly equal size (order kept)."""
        if is_plain_map(inner_map) or not items:
            return [[x] for x in items]
        size = math.ceil(len(items) / max(1, min(self.slots, len(items))))
        return [items[i:i + size] for i in range(0, len(items), size)]

    @abc.abstractmethod
    def map(self, func: Callable[[Any], Any], items: Iterable[Any],
            inner_map: Callable[..., Iterable[Any]] = map) -> Iterator[Any]:
        """Submit ``func`` over all ``items`` now; yield the results in submission order."""

    def describe(self) -> str:
        return self.name


class _Bound:
    """``toolbox.map`` once an executor is installed: ``map(func, items)``."""

    def __init__(self, executor: Executor, inner: Callable[..., Iterable[Any]]):
        self.executor = executor
        self.inner = inner

    def __call__(self, func: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self.executor.map(func, items, self.inner)


class InProcess(Executor):
    """Evaluate in this process with the toolbox's own map (lazily, one candidate after another)."""

    name = "inprocess"

    def map(self, func, items, inner_map=map):
        return iter(inner_map(func, items))


class LocalPool(Executor):
    """A pool of ``workers`` spawned processes on this machine.

    A worker that dies breaks the whole pool (Python's ``ProcessPoolExecutor``): the pool is
    restarted and the unfinished groups are submitted again; each of them is charged one attempt,
    since the pool cannot tell which one the dead worker held. Ray charges only the lost task."""

    name = "pool"

    def __init__(self, workers: int, max_retries: int = DEFAULT_MAX_RETRIES):
        super().__init__(max_retries)
        if int(workers) < 1:
            raise ExecutorError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self._pool: Any = None

    @property
    def slots(self) -> int:
        return self.workers

    def start(self) -> "LocalPool":
        if self._pool is None:
            import concurrent.futures
            import multiprocessing

            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None
        self.start()

    def map(self, func, items, inner_map=map):
        from concurrent.futures.process import BrokenProcessPool

        self.start()
        call = _GroupCall(inner_map, func)
        groups = self.groups(list(items), inner_map)
        futures = [self._pool.submit(call, g) for g in groups]
        attempts = [1] * len(groups)
        lost: dict[int, list[Any]] = {}

        def broken(i: int, exc: BaseException) -> None:
            """The pool broke while group ``i`` was the next one wanted: restart it and submit
            every unfinished group again (one more attempt each), or give up on those out of
            attempts."""
            self._restart()
            for j in range(i, len(groups)):
                f = futures[j]
                if j in lost or (f.done() and not isinstance(f.exception(), BrokenProcessPool)):
                    continue  # done before the break (a result, or the evaluation's own error)
                if attempts[j] > self.max_retries:
                    lost[j] = [lost_record(f"a pool worker died ({exc})", self.name, attempts[j])
                               for _ in groups[j]]
                else:
                    attempts[j] += 1
                    futures[j] = self._pool.submit(call, groups[j])

        def results() -> Iterator[Any]:
            for i in range(len(groups)):
                while i not in lost:
                    try:
                        out = futures[i].result()
                        break
                    except BrokenProcessPool as exc:
                        broken(i, exc)
                yield from lost.pop(i) if i in lost else out

        return results()

    def describe(self) -> str:
        return f"pool of {self.workers} processes"


# ---------------------------------------------------------------------------------------------
# Ray

class _RayWorker:
    """A Ray actor holding one evaluation slot (its CPUs and GPU share for as long as the
    executor runs), so each call is a direct message to it, not a task for Ray's scheduler, and an
    evaluator's data, once loaded, stays on its device between candidates."""

    def __init__(self) -> None:
        self.calls: dict[str, Any] = {}  # the group calls unpacked here, by object id

    def ready(self) -> int:
        """Answers once the actor is placed and running: its process id."""
        import os

        return os.getpid()

    def run(self, boxed: list[Any], group: list[Any]) -> list[Any]:
        """The group call (boxed so that Ray passes its reference: fetched once per actor) over
        one group."""
        import ray

        ref = boxed[0]
        call = self.calls.get(ref.hex())
        if call is None:
            if len(self.calls) >= 8:
                self.calls.pop(next(iter(self.calls)))
            call = self.calls[ref.hex()] = ray.get(ref)
        return call(group)


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ExecutorError(f"--address {address!r}: expected 'auto' or HOST:PORT")
    return host.strip("[]"), int(port)


def probe(address: str, timeout: float) -> None:
    """Fail fast when nothing listens at ``HOST:PORT`` (``ray.init`` would retry for a minute)."""
    host, port = _split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ExecutorError(f"no Ray cluster at {address}: {exc.strerror or exc} (start one with "
                            "'ray start --head', see docs/cluster.md)") from None


class RayExecutor(Executor):
    """Evaluations on a Ray cluster, each slot asking for ``cpus_per_eval`` CPUs and
    ``gpus_per_eval`` GPUs (fractions share a GPU). ``address``: None starts a local Ray instance (``num_cpus`` logical
    CPUs, default all), ``"auto"`` or ``HOST:PORT`` joins a running cluster. A Ray already
    initialised in this process is used as it is (and left running by :meth:`close`).

    Each evaluation slot is an actor holding its resources while the executor is open, at most
    ``max_workers`` of them (default: as many as the cluster has room for)."""

    name = "ray"

    def __init__(self, address: str | None = None, *, cpus_per_eval: float = 1.0, gpus_per_eval: float = 0.0,
                 num_cpus: int | None = None, max_workers: int | None = None,
                 max_retries: int = DEFAULT_MAX_RETRIES, connect_timeout: float = 5.0):
        super().__init__(max_retries)
        if cpus_per_eval < 0 or gpus_per_eval < 0 or (cpus_per_eval == 0 and gpus_per_eval == 0):
            raise ExecutorError(f"--cpus-per-eval {cpus_per_eval} / --gpus-per-eval {gpus_per_eval}: "
                                "need non-negative amounts, not both zero")
        if address is not None and address != "auto":
            _split_address(address)
        self.address = address
        self.cpus_per_eval = float(cpus_per_eval)
        self.gpus_per_eval = float(gpus_per_eval)
        self.num_cpus = num_cpus
        self.max_workers = max_workers
        self.connect_timeout = float(connect_timeout)
        self._ray: Any = None
        self._owns = False
        self._actor_class: Any = None
        self._actors: list[Any] = []
        self._placing: dict[Any, int] = {}  # ready() reference -> actor not known to be running yet
        self._shipped: dict[tuple[int, int], tuple[Any, Any, Any]] = {}
        self._slots = 1

    def start(self) -> "RayExecutor":
        if self._ray is not None:
            return self
        try:
            import ray
        except ImportError:
            raise ExecutorError("--executor ray needs Ray: pip install 'gp_opt[ray]'") from None
        if self.address not in (None, "auto"):
            probe(self.address, self.connect_timeout)
        if not ray.is_initialized():
            try:
                if self.address is None:
                    ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=self.address, log_to_driver=False)
            except ConnectionError as exc:
                raise ExecutorError(f"cannot join the Ray cluster at {self.address}: "
                                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            self._owns = True
        self._ray = ray
        try:
            self._check_resources()
        except BaseException:
            self.close()
            raise
        # an actor killed is restarted (without bound); its calls in flight are retried on the new
        # one, each at most max_retries times
        self._actor_class = ray.remote(_RayWorker).options(
            num_cpus=self.cpus_per_eval, num_gpus=self.gpus_per_eval, max_restarts=-1,
            max_task_retries=self.max_retries)
        return self

    def _check_resources(self) -> None:
        """The cluster must be able to run one evaluation, else its tasks would wait forever."""
        total = self._ray.cluster_resources()
        counts = []
        for what, need in (("CPU", self.cpus_per_eval), ("GPU", self.gpus_per_eval)):
            have = float(total.get(what, 0.0))
            if need > have:
                raise ExecutorError(f"--{what.lower()}s-per-eval {need:g}: the Ray cluster has "
                                    f"{have:g} {what}s")
            if need > 0:
                counts.append(int(have // need))
        self._slots = max(1, min(counts))

    @property
    def slots(self) -> int:
        return min(self._slots, self.max_workers or self._slots)

    def close(self) -> None:
        self._shipped.clear()
        if self._ray is not None:
            for actor in self._actors:  # their slots go back to the cluster
                self._ray.kill(actor)
            if self._owns:
                self._ray.shutdown()
        self._ray, self._owns, self._actor_class, self._actors = None, False, None, []
        self._placing = {}

    def _workers(self, n: int) -> list[Any]:
        """``min(n, slots)`` actors (made as calls need them, kept for the next calls)."""
        k = min(n, self.slots)
        while len(self._actors) < k:
            actor = self._actor_class.remote()
            self._placing[actor.ready.remote()] = len(self._actors)
            self._actors.append(actor)
        return self._actors[:k]

    def warm_up(self, n: int | None = None) -> int:
        """Start ``min(n, slots)`` workers (default: all slots) and wait until they all run (e.g.
        before timing); returns how many run."""
        self.start()
        actors = self._workers(self.slots if n is None else n)
        waiting = [r for r, a in self._placing.items() if a < len(actors)]
        self._ray.get(waiting)
        for r in waiting:
            del self._placing[r]
        return len(actors)

    #: calls in flight per actor. One: a worker gets its next group when it is free, so a slow
    #: candidate never holds a fast one up behind it (2 hid a message's latency for tiny
    #: evaluations, but put two slow surrogate candidates on one worker while another idled)
    DEPTH = 1

    def _ship(self, inner_map: Any, func: Any) -> Any:
        """The object reference of the group call (put in the object store once per pair)."""
        k = (id(inner_map), id(func))
        hit = self._shipped.get(k)
        if hit is None or hit[0] is not inner_map or hit[1] is not func:
            hit = self._shipped[k] = (inner_map, func, self._ray.put(_GroupCall(inner_map, func)))
        return hit[2]

    def map(self, func, items, inner_map=map):
        """Groups go to the running actors as they free up (at most :attr:`DEPTH` in flight each),
        in submission order; results come back in that order. An actor still waiting for its
        resources (a busy shared cluster) gets work once it runs."""
        self.start()
        ray = self._ray
        groups = self.groups(list(items), inner_map)
        if not groups:
            return iter(())
        boxed = [self._ship(inner_map, func)]
        actors = self._workers(len(groups))
        todo = collections.deque(range(len(groups)))
        in_flight: dict[Any, tuple[int, int]] = {}  # ref -> (group, actor)
        load = [0] * len(actors)
        done: dict[int, list[Any]] = {}

        def submit() -> None:
            running = [a for a in range(len(actors)) if a not in self._placing.values()]
            for _ in range(self.DEPTH):
                for a in running:
                    actor = actors[a]
                    if todo and load[a] < self.DEPTH:
                        i = todo.popleft()
                        in_flight[actor.run.remote(boxed, groups[i])] = (i, a)
                        load[a] += 1

        def fetch(ref: Any, i: int) -> list[Any]:
            try:
                return ray.get(ref)
            except ray.exceptions.RayTaskError:
                raise  # the evaluation itself raised: a bug, raised here as in-process
            except ray.exceptions.RayError as exc:  # its worker was lost on every attempt
                first = (str(exc).strip().splitlines() or [""])[0]
                return [lost_record(f"{type(exc).__name__}: {first}", self.name, self.max_retries + 1)
                        for _ in groups[i]]

        def results() -> Iterator[Any]:
            for i in range(len(groups)):
                while i not in done:
                    submit()
                    placing = [r for r, a in self._placing.items() if a < len(actors)]
                    ready, _ = ray.wait(list(in_flight) + placing, num_returns=1)
                    for ref in ready:
                        if ref in self._placing:
                            del self._placing[ref]  # running now: it takes work from the next submit()
                            continue
                        j, a = in_flight.pop(ref)
                        load[a] -= 1
                        done[j] = fetch(ref, j)
                yield from done.pop(i)

        submit()
        return results()

    def describe(self) -> str:
        where = "a local Ray instance" if self.address is None else f"the Ray cluster at {self.address}"
        return (f"{where} ({self.cpus_per_eval:g} CPU, {self.gpus_per_eval:g} GPU per evaluation, "
                f"{self._slots} at once)")


# ---------------------------------------------------------------------------------------------
# the command line's executor options (search, resume, and any verb that evaluates)


def add_executor_options(parser: argparse.ArgumentParser, workers: bool = True) -> None:
    """Add ``--executor``, ``--workers``, ``--address``, ``--cpus-per-eval``, ``--gpus-per-eval``
    and ``--max-retries`` to a verb's parser; :func:`executor_from_args` reads them back."""
    g = parser.add_argument_group("where evaluations run")
    g.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="inprocess (default), pool (--workers processes here) or ray (a Ray cluster)")
    if workers:
        g.add_argument("--workers", type=int, default=None,
                       help="with --executor pool (implied by --workers N > 1): this many processes")
    g.add_argument("--address", metavar="auto|HOST:PORT",
                   help="with --executor ray: join this cluster (default: start a local Ray instance)")
    g.add_argument("--cpus-per-eval", type=float, default=1.0, metavar="C",
                   help="with --executor ray: CPUs an evaluation asks for (default 1)")
    g.add_argument("--gpus-per-eval", type=float, default=0.0, metavar="G",
                   help="with --executor ray: GPUs an evaluation asks for, e.g. 0.25 (default 0)")
    g.add_argument("--max-retries", type=int, default=DEFAULT_MAX_RETRIES, metavar="R",
                   help=f"retries of an evaluation whose worker died (default {DEFAULT_MAX_RETRIES})")


def executor_from_args(args: argparse.Namespace, default_workers: int = 0) -> Executor | None:
    """The executor the options of :func:`add_executor_options` ask for, not started yet (None when
    none was asked for: the caller's default, e.g. the run's own ``workers``). Options for another
    executor than the chosen one are an error."""
    kind = getattr(args, "executor", None)
    workers = getattr(args, "workers", None)
    ray_opts = [f"--{n.replace('_', '-')}" for n, default in
                (("address", None), ("cpus_per_eval", 1.0), ("gpus_per_eval", 0.0))
                if getattr(args, n, default) != default]
    if kind is None:
        if ray_opts:
            raise ExecutorError(f"{', '.join(ray_opts)} need --executor ray")
        if workers is None:
            return None
        kind = "pool" if workers > 1 else "inprocess"
    if kind != "ray" and ray_opts:
        raise ExecutorError(f"{', '.join(ray_opts)} need --executor ray, not {kind}")
    retries = getattr(args, "max_retries", DEFAULT_MAX_RETRIES)
    if kind == "inprocess":
        return InProcess(retries)
    if kind == "pool":
        n = workers if workers is not None else default_workers
        if not n or n < 1:
            raise ExecutorError("--executor pool needs --workers N")
        return LocalPool(n, retries)
    if workers is not None:
        raise ExecutorError("--workers is for --executor pool; Ray runs as many evaluations as the "
                            "cluster has room for (see --cpus-per-eval, --gpus-per-eval)")
    return RayExecutor(args.address, cpus_per_eval=args.cpus_per_eval, gpus_per_eval=args.gpus_per_eval,
                       max_retries=retries)


def make_executor(workers: int = 0) -> Executor:
    """The executor of a run's ``workers`` setting: a pool if more than one, else in-process."""
    return LocalPool(workers) if workers and workers > 1 else InProcess()


@contextlib.contextmanager
def running(executor: Executor | None) -> Iterator[Executor | None]:
    """``with running(executor_from_args(args)) as ex:`` -- started on entry (so a cluster that
    cannot be reached fails before anything is written), closed on exit; None passes through."""
    if executor is None:
        yield None
        return
    with executor:
        yield executor
