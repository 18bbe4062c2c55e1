"""Every file a results README cites is in the repository (issue 26).

For each ``README.md`` and ``commands.sh`` under ``results/``, and for the project README's links
into ``results/`` and ``docs/``, each relative path it cites must exist in the repository: tracked,
or about to be (present and not ignored by git), and a cited folder must hold such a file. What
counts as a citation:

- a Markdown link ``[text](path)`` (resolved from the README's folder; URLs and ``#anchors`` aside);
- in a README's prose, a code span holding one path-like word (a ``/`` or a file extension), resolved
  from the README's folder or, failing that, from the repository root (a bare file name, with no
  ``/``, may also lie anywhere below the README's folder); ``*`` is a glob that must match something; a span with a placeholder (``<task>``, ``…``, ``RUN``) names no file;
- in a command (a ``commands.sh`` line, its comments included, a fenced block, a code span of
  several words), each word that starts with one of the repository's top-level folders
  (``results/...``, ``docs/...``, ``benchmarks/...``): what a command writes elsewhere (``runs/``,
  ``/tmp``, ``-o FILE``) is output, not evidence.
"""
from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXTENSIONS = (".json", ".jsonl", ".md", ".png", ".pdf", ".tex", ".py", ".sh", ".csv", ".gz", ".toml", ".txt",
              ".npz", ".svg")
PLACEHOLDER = re.compile(r"[<>{}…$]|\.\.\.|\bRUN\b|\bDIR\b|\bNAME\b|\bFILE\b")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?$(.*?)^```", re.S | re.M)
CODE = re.compile(r"`([^`\n]+)`")


def repo_files(root: Path) -> set[str]:
    """The files that are, or will be once committed, in the repository (paths relative to ``root``):
    ``git ls-files`` of tracked and not-ignored files; every file when ``root`` is no git checkout."""
    r = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                       capture_output=True, text=True)
    if r.returncode == 0 and (root / ".git").exists():
        return {f for f in r.stdout.split("\0") if f and (root / f).exists()}
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _exists(rel: str, files: set[str]) -> bool:
    rel = rel.rstrip("/")
    if "**/" in rel:  # a bare name anywhere below a folder
        folder, name = rel.split("/**/", 1)
        return any(f.startswith(folder + "/") and (f.rsplit("/", 1)[-1] == name or f"/{name}/" in f"/{f}")
                   for f in files)
    if "*" in rel:
        return any(fnmatch.fnmatch(f, rel) or fnmatch.fnmatch(f, rel + "/*") for f in files)
    return rel in files or any(f.startswith(rel + "/") for f in files)


def _norm(base: Path, target: str, root: Path) -> str | None:
    """``target`` from folder ``base`` as a path relative to ``root`` (None: it leaves the repository)."""
    p = (base / target).resolve() if not Path(target).is_absolute() else None
    try:
        return p.relative_to(root.resolve()).as_posix() if p is not None else None
    except ValueError:
        return None


def _pathlike(word: str) -> bool:
    return ("/" in word or word.lower().endswith(EXTENSIONS)) and not PLACEHOLDER.search(word) \
        and "://" not in word and not word.startswith(("-", "/", "~", "$", "."))


def _command_words(text: str, top: set[str]) -> list[str]:
    words = []
    for w in re.split(r"[\s=;|&()'\"]+", text):
        w = w.strip(".,:;`")
        if w.split("/", 1)[0] in top and "/" in w and not PLACEHOLDER.search(w):
            words.append(w)
    return words


def citations(file: Path, root: Path) -> list[tuple[str, list[str]]]:
    """``(as written, candidate repository paths)`` for every path ``file`` cites."""
    top = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "runs"}
    text = file.read_text(encoding="utf-8")
    base = file.parent
    found: list[tuple[str, list[str]]] = []

    def from_commands(chunk: str) -> None:
        for w in _command_words(chunk, top):
            found.append((w, [w]))

    if file.name.endswith(".sh"):
        from_commands(text)
        return found
    for fence in FENCE.findall(text):
        from_commands(fence)
    prose = FENCE.sub("", text)
    for target in LINK.findall(prose):
        target = target.split("#", 1)[0]
        if not target or "://" in target or target.startswith("mailto:"):
            continue
        rel = _norm(base, target, root)
        found.append((target, [rel] if rel else []))
    for span in CODE.findall(prose):
        span = span.strip()
        if " " in span:
            from_commands(span)
        elif _pathlike(span):
            cands = [c for c in (_norm(base, span, root), _norm(root, span, root)) if c]
            if "/" not in span.rstrip("/"):  # a bare name: anywhere in the README's folder
                cands.append((_norm(base, ".", root) or "") + "/**/" + span)
            found.append((span, cands))
    return found


def dead_citations(file: Path, root: Path, files: set[str] | None = None, only_under=()) -> list[str]:
    """The paths ``file`` cites that are not in the repository (``only_under``: check only those)."""
    files = repo_files(root) if files is None else files
    dead = []
    for written, cands in citations(file, root):
        if only_under and not any(c.startswith(only_under) for c in cands):
            continue
        if not any(_exists(c, files) for c in cands):
            dead.append(written)
    return dead


def _results_docs():
    return sorted(p for p in (REPO / "results").rglob("*") if p.name in ("README.md", "commands.sh")
                  and "runs" not in p.relative_to(REPO / "results").parts[:-1])


@pytest.fixture(scope="module")
def files():
    return repo_files(REPO)


@pytest.mark.parametrize("doc", _results_docs(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_path_a_results_file_cites_is_in_the_repository(doc, files):
    dead = dead_citations(doc, REPO, files)
    assert not dead, f"{doc.relative_to(REPO)} cites what is not in the repository: {', '.join(dead)}"


def test_the_project_readme_links_into_results_and_docs_exist(files):
    dead = dead_citations(REPO / "README.md", REPO, files, only_under=("results/", "docs/"))
    assert not dead, f"README.md cites what is not in the repository: {', '.join(dead)}"


def test_a_readme_citing_a_missing_file_fails(tmp_path):
    (tmp_path / "results" / "camp" / "genomes").mkdir(parents=True)
    (tmp_path / "results" / "camp" / "genomes" / "a.json").write_text("{}")
    (tmp_path / "results" / "camp" / "empty").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.md").write_text("x")
    readme = tmp_path / "results" / "camp" / "README.md"
    readme.write_text("The genome is `genomes/a.json`; see [the docs](../../docs/x.md) and `docs/x.md`.\n"
                      "A template `transfer-<task>.md` and a command `gp-opt report RUN --top 5` cite nothing.\n")
    assert dead_citations(readme, tmp_path) == []
    readme.write_text(readme.read_text() + "The log is in `runs/main/candidates.jsonl.gz`, the folder `empty/`,\n"
                      "[gone](missing.md), and\n```sh\ncp -r results/camp/runs /tmp/x\n```\n")
    assert dead_citations(readme, tmp_path) == ["results/camp/runs", "missing.md", "runs/main/candidates.jsonl.gz",
                                                "empty/"]
    sh = tmp_path / "results" / "camp" / "commands.sh"
    sh.write_text("# copies in results/camp/runs/ (gzipped)\ngp-opt search --out runs/x\n"
                  "python results/camp/genomes/a.json results/camp/confirm.py\n")
    assert dead_citations(sh, tmp_path) == ["results/camp/runs/", "results/camp/confirm.py"]


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="needs a git checkout")
def test_gitignore_keeps_users_runs_out_and_results_runs_in():
    def ignored(path):
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0

    assert ignored("runs/mine/candidates.jsonl") and ignored("gp_opt/runs/x.json")
    assert not ignored("results/some-campaign/runs/main/candidates.jsonl")


@pytest.mark.slow
def test_the_2026_12_02_report_rebuilds_from_the_committed_run(tmp_path):
    """results/digits-2026-12-02/README.md's recipe: its committed run, elimination and transfer
    records give the report's top-5 table again (the report's wording may change with the code)."""
    import shutil

    from gp_opt.cli import main

    src = REPO / "results" / "digits-2026-12-02"
    run = tmp_path / "campaign-digits-warm"
    shutil.copytree(src / "run", run)
    for part in ("elimination", "transfer"):
        shutil.copytree(src / part, run / part)
    assert main(["report", str(run), "--top", "5"]) == 0

    def top_k(text):  # each entry's heading (rank, fitness, candidate, step) and its genome's key
        return re.findall(r"^### #\d+: fitness \S+ \(candidate \d+, step \d+\)$|key `fp1:[0-9a-f]+`", text, re.M)

    rebuilt, committed = ((d / "report" / "report.md").read_text() for d in (run, src))
    assert len(top_k(committed)) == 10 and top_k(rebuilt) == top_k(committed)
