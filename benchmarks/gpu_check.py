"""The GPU checks of one sitting (issue 24): every CUDA path of gp_opt run once, its tables under OUT.

Run through ``benchmarks/gpu_check.sh`` (the same options). Three ways:

``--prepare`` (here, on a machine with pip and the network): download the wheels of the project's
pure-Python dependencies, at the versions installed here, for the GPU machine's Python (3.12) into
``.gpu-wheels/`` (gitignored; a few MiB), and say how much the tree and the wheels weigh together.

(no option; on the GPU machine, which has torch with CUDA but maybe none of the project's other
pure-Python dependencies): install what is missing from ``.gpu-wheels/`` into a private folder
(nothing else is touched), then run the steps below within ``--budget`` seconds (default 540), each
cut at its own limit, writing ``summary.md``, ``tables.md``, ``pytest.txt``, ``profile.txt``,
``log.txt`` and ``search-candidates.jsonl`` under ``--out`` (default ``$OUT``; six files, within
what a device call brings back). Without a CUDA device it refuses (exit 2): it never
writes a GPU table from a CPU.

``--dry-run`` (any machine): the same steps on tiny sizes on the CPU, to check that each one runs and
writes its table; a step that needs CUDA says so, and one with no CPU form is skipped, saying so.
Nothing it writes is a measurement.

``--only a,b`` runs some steps (e.g. the suite again after a fix); ``--list`` prints them.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WHEELS = REPO / ".gpu-wheels"
TARGET_PYTHON = "3.12"  # the GPU machine's (docs: the device tool's KINDS.md)
#: what ``import gp_opt`` and the test suite need that is pure Python, as (import name, distribution);
#: the compiled ones (numpy, scipy, scikit-learn, matplotlib) are on the GPU machine's image
PURE_DEPS = (("deap", "deap"), ("networkx", "networkx"), ("sympy", "sympy"), ("mpmath", "mpmath"),
             ("pytest", "pytest"), ("pluggy", "pluggy"), ("iniconfig", "iniconfig"), ("packaging", "packaging"),
             ("hypothesis", "hypothesis"), ("attr", "attrs"), ("sortedcontainers", "sortedcontainers"))
MAX_WHEELS_MIB = 40  # the device call carries at most 64 MiB, the tree included
FINALISTS = sorted((REPO / "results" / "digits-2026-12-03" / "genomes").glob("*.json"))
HEADER_DRY = "DRY RUN on the CPU, tiny sizes: this checks that the step runs; nothing here is a measurement.\n"


@dataclass
class Step:
    """One check: its command on a GPU and its tiny CPU form for ``--dry-run`` (None: no CPU form)."""
    name: str
    needs_cuda: bool
    limit_s: float
    gpu: list[str]
    dry: list[str] | None
    out: str  # the file under OUT its output goes to
    what: str
    env: dict[str, str] = field(default_factory=dict)


def _py(*args: str) -> list[str]:
    return [sys.executable, *args]


def steps(work: Path, dry: bool) -> list[Step]:
    """The steps in the order they run (the suite last: it takes what the budget has left);
    ``work``: a scratch folder for the search's data and run directory."""
    genomes = [a for g in FINALISTS for a in ("--genome", str(g.relative_to(REPO)))]
    xdist = importlib.util.find_spec("xdist") is not None
    par = ["-n", str(min(12, os.cpu_count() or 1)), "--ignore=tests/test_optax.py"] if xdist else []
    return [
        Step("pytest-gpu", True, 150, _py("-m", "pytest", "-m", "gpu", "-rs", "-q", "-p", "no:cacheprovider", "tests"),
             _py("-m", "pytest", "-m", "gpu", "-rs", "-q", "-p", "no:cacheprovider", "tests/test_optim_gpu.py"),
             "pytest.txt", "pytest -m gpu (dry run: one file, its tests skip without CUDA)"),
        Step("optimizer-step", True, 90,
             _py("benchmarks/optimizer_step.py", "--devices", "cuda", "--params", "10000000", "--no-optax", *genomes),
             _py("benchmarks/optimizer_step.py", "--devices", "cpu", "--params", "20000", "--tensors", "4",
                 "--steps", "2", "--no-optax", *genomes[:2]),
             "tables.md", "optimizer_step.py on CUDA: Opt6, Opt10, a random stateful genome, the digits "
             "finalists, 10M parameters, vs Adam(foreach=True)"),
        Step("throughput", True, 120,
             _py("benchmarks/surrogate_throughput.py", "--preset", "paper", "--candidates", "8"),
             _py("benchmarks/surrogate_throughput.py", "--preset", "smoke", "--device", "cpu", "--steps", "2", "3"),
             "tables.md", "surrogate_throughput.py --preset paper, eager loop vs the project's path, no CUDA graphs"),
        Step("throughput-graphs", True, 120,
             _py("benchmarks/surrogate_throughput.py", "--preset", "paper", "--candidates", "8", "--cuda-graphs"),
             None, "tables.md", "the same with --cuda-graphs (no CPU form: graphs are CUDA only)"),
        Step("search", True, 200,
             _py("benchmarks/search_speed.py", "--preset", "paper", "--seconds", "150", "--out", str(work / "search")),
             _py("benchmarks/search_speed.py", "--preset", "smoke", "--shape", "128,8,8,3", "--particles", "1",
                 "--steps", "1", "--children", "1", "--max-redraws", "0", "--init-from", "Adam",
                 "--seconds", "60", "--out", str(work / "search")),
             "tables.md", "a surrogate search on CIFAR-shaped synthetic tensors with --batch-children, "
             "4 particles x 2 steps x 7 children, stopped after 150 s: evaluations per GPU-hour"),
        Step("profile", True, 90,
             _py("benchmarks/surrogate_profile.py", "--preset", "paper", "--members", "8", "--steps", "30"),
             _py("benchmarks/surrogate_profile.py", "--preset", "smoke", "--device", "cpu", "--members", "2",
                 "--steps", "2", "--rows", "5"),
             "profile.txt", "torch.profiler trace of an ensemble of 8 at the paper's shape, summarised"),
        Step("suite", False, 600,
             _py("-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *par),
             _py("-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/test_packaging.py"),
             "pytest.txt", "the whole test suite (then tests/test_optax.py alone when run in parallel); "
                           "dry run: collects one file"),
    ] + ([Step("suite-optax", False, 120, _py("-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider",
                                              "tests/test_optax.py"), None, "pytest.txt",
               "tests/test_optax.py on its own (JAX's threads and forking workers do not mix)")] if xdist and not dry
         else [])


# ----------------------------------------------------------------------------------------------
# the environment: missing pure-Python dependencies from the carried wheels, the package links
# ----------------------------------------------------------------------------------------------


def missing_deps() -> list[tuple[str, str]]:
    return [(mod, dist) for mod, dist in PURE_DEPS if importlib.util.find_spec(mod) is None]


def wheel_for(dist: str) -> Path | None:
    stem = dist.replace("-", "_").lower()
    found = [w for w in WHEELS.glob("*.whl") if w.name.lower().split("-")[0] == stem]
    return found[0] if found else None


def install_missing(site: Path, log) -> str | None:
    """Install the missing dependencies' wheels into ``site``; None, or why it cannot."""
    missing = missing_deps()
    if not missing:
        log("dependencies: every pure-Python dependency imports here; nothing to install")
        return None
    wheels = {dist: wheel_for(dist) for _, dist in missing}
    absent = [d for d, w in wheels.items() if w is None]
    if absent:
        return (f"missing here and not in {WHEELS.name}/: {', '.join(absent)} "
                "(run benchmarks/gpu_check.sh --prepare where pip can download, and carry .gpu-wheels)")
    cmd = _py("-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
              "--target", str(site), *[str(w) for w in wheels.values()])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return f"pip could not install {', '.join(wheels)} from {WHEELS.name}/: {r.stderr.strip()[-300:]}"
    log(f"dependencies: installed {', '.join(w.name for w in wheels.values())} into {site}")
    return None


def ensure_links(log) -> None:
    """``gp_opt._grammar`` and ``gp_opt._paper`` are mapped by setup.cfg; in a bare copy of the tree
    (not installed) they are the two links a development checkout has."""
    for name, target in (("_grammar", "../grammar"), ("_paper", "../results/paper")):
        link = REPO / "gp_opt" / name
        if not link.exists():
            link.symlink_to(target)
            log(f"made the link gp_opt/{name} -> {target} (setup.cfg's package_dir, for this uninstalled tree)")


def cuda_info(env: dict[str, str]) -> tuple[bool, str]:
    code = ("import sys, torch; ok = torch.cuda.is_available(); "
            "print(int(ok)); print(f'python {sys.version.split()[0]}, torch {torch.__version__}, CUDA '"
            "f'{torch.version.cuda}, ' + (torch.cuda.get_device_name(0) if ok else 'no CUDA device'))")
    r = subprocess.run(_py("-c", code), capture_output=True, text=True, env=env, cwd=REPO)
    if r.returncode != 0:
        return False, "torch does not import: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    flag, desc = r.stdout.strip().splitlines()[:2]
    return flag == "1", desc


def run_step(cmd: list[str], env: dict[str, str], out, limit: float) -> int | None:
    """Run ``cmd`` in its own process group, output to ``out``; its exit code, or None when it ran
    past ``limit`` seconds: then the whole group (a search's workers, pytest's) is stopped, so no
    leftover process shares the device with the next step."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        return None


# ----------------------------------------------------------------------------------------------
# prepare
# ----------------------------------------------------------------------------------------------


def prepare(python_version: str) -> int:
    from importlib import metadata

    pins = []
    for mod, dist in PURE_DEPS:
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            print(f"gpu_check --prepare: {dist} is not installed here, so there is no tested version to pin",
                  file=sys.stderr)
            return 2
    if WHEELS.exists():
        shutil.rmtree(WHEELS)
    WHEELS.mkdir()
    platforms = [a for p in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
                 for a in ("--platform", p)]
    cmd = _py("-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", python_version,
              "--implementation", "cp", *platforms, "-d", str(WHEELS), *pins)
    print("$ " + " ".join(cmd[1:]))
    if subprocess.run(cmd).returncode != 0:
        print("gpu_check --prepare: pip download failed (above)", file=sys.stderr)
        return 1
    wheels_mib = sum(w.stat().st_size for w in WHEELS.glob("*.whl")) / 2 ** 20
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, text=True).stdout.split("\0")
    tree_mib = sum((REPO / f).stat().st_size for f in tracked if f and (REPO / f).is_file()) / 2 ** 20
    print(f"{len(pins)} wheels in {WHEELS.name}/: {wheels_mib:.1f} MiB; the tree that travels ~{tree_mib:.1f} MiB; "
          f"together {wheels_mib + tree_mib:.1f} of the 64 MiB a device call carries")
    if wheels_mib > MAX_WHEELS_MIB:
        print(f"gpu_check --prepare: the wheels exceed {MAX_WHEELS_MIB} MiB", file=sys.stderr)
        return 1
    return 0


# ----------------------------------------------------------------------------------------------
# run
# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="every step on tiny sizes on the CPU (no measurement)")
    ap.add_argument("--prepare", action="store_true", help="download the wheels to carry (run here, not there)")
    ap.add_argument("--python-version", default=TARGET_PYTHON, help="with --prepare: the GPU machine's Python")
    ap.add_argument("--out", default=os.environ.get("OUT"), help="where the tables go (default: $OUT)")
    ap.add_argument("--only", default=None, help="comma-separated step names (see --list)")
    ap.add_argument("--budget", type=float, default=540.0, help="seconds for all steps together (default 540)")
    ap.add_argument("--list", action="store_true", help="print the steps and exit")
    args = ap.parse_args(argv)
    if args.prepare:
        return prepare(args.python_version)
    if args.list:
        for s in steps(Path(tempfile.gettempdir()), args.dry_run):
            print(f"{s.name:<18} {'needs CUDA' if s.needs_cuda else 'any device':<11} "
                  f"{'no CPU form' if s.dry is None else 'CPU form in --dry-run':<22} {s.what}")
        return 0
    if not args.out:
        print("gpu_check: no --out and $OUT is unset: say where the tables go", file=sys.stderr)
        return 2
    out = Path(args.out)
    names = [s.name for s in steps(Path(tempfile.gettempdir()), args.dry_run)]
    only = [n.strip() for n in args.only.split(",")] if args.only else names
    unknown = [n for n in only if n not in names]
    if unknown:
        print(f"gpu_check: unknown step {', '.join(unknown)}; steps: {', '.join(names)}", file=sys.stderr)
        return 2
    if args.budget <= 0:
        print(f"gpu_check: --budget must be > 0 seconds, got {args.budget}", file=sys.stderr)
        return 2

    has_cuda, desc = cuda_info(dict(os.environ))
    if not has_cuda and not args.dry_run:
        print(f"gpu_check: no CUDA device here ({desc}); nothing is run or written. "
              "Use --dry-run to check the steps on the CPU.", file=sys.stderr)
        return 2
    site, work = (Path(tempfile.mkdtemp(prefix=p)) for p in ("gp_opt_site_", "gp_opt_gpu_check_"))
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), str(site), os.environ.get("PYTHONPATH")) if p))
    out.mkdir(parents=True, exist_ok=True)
    mode = "DRY RUN (CPU, tiny sizes; no measurement)" if args.dry_run else "GPU run"
    logf = open(out / "log.txt", "a", encoding="utf-8")

    def log(line: str) -> None:
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    log(f"gpu_check: {mode} | {desc} | {os.cpu_count()} CPUs | {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    why = install_missing(site, log)
    if why:
        log(f"gpu_check: {why}")
        return 2
    ensure_links(log)
    if args.dry_run and WHEELS.exists():
        absent = [d for _, d in PURE_DEPS if wheel_for(d) is None]
        log(f"{WHEELS.name}/: " + (f"no wheel for {', '.join(absent)}" if absent else "a wheel for every pure-Python "
                                   "dependency"))
    elif args.dry_run:
        log(f"{WHEELS.name}/ is absent: benchmarks/gpu_check.sh --prepare makes it (needed only where a dependency "
            "is missing)")
    plan = steps(work, args.dry_run)
    for name in sorted({s.out for s in plan}):
        with open(out / name, "a", encoding="utf-8") as f:
            f.write(f"# gpu_check {mode}: {desc}\n" + (HEADER_DRY if args.dry_run else ""))

    deadline = time.monotonic() + args.budget
    rows = []
    for s in plan:
        if s.name not in only:
            continue
        cmd = s.dry if args.dry_run else s.gpu
        cuda_note = "needs CUDA" if s.needs_cuda else "any device"
        if cmd is None:
            log(f"[{s.name}] {cuda_note}: skipped in the dry run (no CPU form)")
            rows.append((s.name, cuda_note, "skipped: needs CUDA", "", ""))
            continue
        left = deadline - time.monotonic()
        limit = min(s.limit_s, left)
        if limit < 20:
            log(f"[{s.name}] not run: {left:.0f} s of the budget left (rerun with --only {s.name})")
            rows.append((s.name, cuda_note, "not run: budget spent", "", ""))
            continue
        label = " (CPU form, tiny)" if args.dry_run and s.needs_cuda else ""
        log(f"[{s.name}] {cuda_note}{label}: {s.what}\n$ {' '.join(Path(c).name if c == sys.executable else c for c in cmd)}")
        t0 = time.monotonic()
        with open(out / s.out, "a", encoding="utf-8") as f:
            f.write(f"\n## {s.name}{label}: {s.what}\n\n```\n")
            f.flush()
            rc = run_step(cmd, dict(env, **s.env), f, limit)
            status = f"cut at its {limit:.0f} s limit" if rc is None else "ok" if rc == 0 else f"FAILED (exit {rc})"
            f.write("```\n")
        dt = time.monotonic() - t0
        log(f"[{s.name}] {status} in {dt:.1f} s -> {s.out}")
        rows.append((s.name, cuda_note, status, f"{dt:.1f}", s.out))
        log_file = work / "search" / "run" / "candidates.jsonl"
        if s.name == "search" and log_file.exists():  # the evidence behind the rate, one level down
            shutil.copyfile(log_file, out / "search-candidates.jsonl")

    with open(out / "summary.md", "a", encoding="utf-8") as f:
        f.write(f"# gpu_check: {mode}\n\n{desc}\n\n" + (HEADER_DRY + "\n" if args.dry_run else ""))
        f.write("| step | device | status | seconds | output |\n|---|---|---|---:|---|\n")
        for r in rows:
            f.write("| " + " | ".join(r) + " |\n")
    failed = [r[0] for r in rows if r[2] not in ("ok", "skipped: needs CUDA")]
    log(f"gpu_check: {mode} done; " + (f"not ok: {', '.join(failed)}" if failed else "every step ok")
        + f"; tables under {out}")
    logf.close()
    for scratch in (site, work):
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
