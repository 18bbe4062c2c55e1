"""A fixed-seed genome search per algorithm logs exactly the candidates a committed reference log
holds (timing fields and the checksums that chain them aside): the search's behaviour is pinned,
so a refactor of the loop that changes it fails here.

The reference logs are in tests/data/search_reference/: ``ALGORITHM.jsonl`` with per-candidate
evaluation seeds (the default since 2026-12-06, when they were regenerated), and
``ALGORITHM-fixed.jsonl`` with ``eval_seeds="fixed"``, which must still log what every search
logged before (every candidate on the task's own seed). After a deliberate change of behaviour,
regenerate them with ``PYTHONPATH=. python tests/test_search_reference.py`` and say so in the
commit message."""
import json
import sys
from pathlib import Path

import pytest

from gp_opt.rundir import CANDIDATES_FILE
from gp_opt.search import run_search

REFERENCE = Path(__file__).parent / "data" / "search_reference"
#: one search per algorithm, about a second each on the quadratic task
SETTINGS = dict(particles=2, steps=2, children=3, seed=3, init_factor=3,
                task_options={"steps": 30, "lrs": [0.1, 0.01]}, verbose=False)
#: wall-clock fields, and the checksum chained over them
UNSTABLE = ("time", "seconds", "crc")


def stable(obj):
    """``obj`` without the wall-clock fields, at any depth."""
    if isinstance(obj, dict):
        return {k: stable(v) for k, v in obj.items() if k not in UNSTABLE}
    if isinstance(obj, list):
        return [stable(v) for v in obj]
    return obj


MODES = {"": "per-candidate", "-fixed": "fixed"}  # file suffix -> eval_seeds


def search_log(algorithm: str, out: Path, eval_seeds: str) -> list[dict]:
    run_search("quadratic", out, algorithm=algorithm, eval_seeds=eval_seeds, **SETTINGS)
    return [stable(json.loads(x)) for x in (out / CANDIDATES_FILE).read_text().splitlines()]


@pytest.mark.parametrize("suffix", list(MODES))
@pytest.mark.parametrize("algorithm", ["particle", "regularized"])
def test_fixed_seed_search_logs_the_reference_candidates(tmp_path, algorithm, suffix):
    expected = [json.loads(x) for x in (REFERENCE / f"{algorithm}{suffix}.jsonl").read_text().splitlines()]
    got = search_log(algorithm, tmp_path / algorithm, MODES[suffix])
    assert len(got) == len(expected)
    for line, ref in zip(got, expected):
        assert line == ref, f"candidates.jsonl line {ref['seq']} differs from the reference"


def regenerate() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for algorithm in ("particle", "regularized"):
            for suffix, eval_seeds in MODES.items():
                lines = search_log(algorithm, Path(tmp) / (algorithm + suffix), eval_seeds)
                text = "".join(json.dumps(x, sort_keys=True) + "\n" for x in lines)
                (REFERENCE / f"{algorithm}{suffix}.jsonl").write_text(text, encoding="utf-8")
                print(f"{REFERENCE / algorithm}{suffix}.jsonl: {len(lines)} candidates", file=sys.stderr)


if __name__ == "__main__":
    regenerate()
