"""A plain custom fitness runs with one torch thread inside the search, as the built-in tasks do
(issue 21 item 7: 20-70x slower than alone, from intra-op threads on a busy machine)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from gp_opt.errors import GpOptError
from gp_opt.tasks import FunctionTask, custom_task

MODULE = '''
import torch
SEEN = []
def threads_seen(genome):
    SEEN.append(torch.get_num_threads())
    return float(torch.get_num_threads())
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "thread_tasks.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("thread_tasks", None)


def test_function_task_runs_with_one_thread_and_restores(user_module):
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        task = custom_task("thread_tasks:threads_seen")
        assert task(None).fitness == 1.0
        assert torch.get_num_threads() == 2
        assert custom_task("thread_tasks:threads_seen", threads=2)(None).fitness == 2.0
        assert FunctionTask(lambda g: float(torch.get_num_threads()), "f", threads=None)(None).fitness == 2.0
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused(user_module, bad):
    with pytest.raises(GpOptError, match="threads must be a whole number"):
        custom_task("thread_tasks:threads_seen", threads=bad)


def test_other_options_of_a_plain_function_are_still_refused(user_module):
    with pytest.raises(GpOptError, match="takes no options but threads"):
        custom_task("thread_tasks:threads_seen", steps=3)


def test_search_scores_a_plain_function_on_one_thread(user_module):
    p = subprocess.run([sys.executable, "-m", "gp_opt.cli", "search", "--task", "thread_tasks:threads_seen",
                        "--particles", "2", "--steps", "1", "--children", "1", "--init-factor", "1", "-q",
                        "--out", "run"], capture_output=True, text=True, cwd=user_module, timeout=300,
                       env={**__import__("os").environ, "OMP_NUM_THREADS": "2",
                            "PYTHONPATH": f"{user_module}:{__import__('os').environ.get('PYTHONPATH', '')}"})
    assert p.returncode == 0, p.stderr
    import json
    best = json.loads((user_module / "run" / "best.json").read_text())
    assert best["meta"]["found"]["fitness"] == 1.0
