"""gp-opt transfer's entries on a local Ray instance (support.executors.ray_executor: 4 logical CPUs,
two actors): the same tables as in this process. Skipped without Ray."""
import json

import pytest
import torch

ray = pytest.importorskip("ray")

from gp_opt.transfer import get_task, run_transfer  # noqa: E402

from support.executors import progress_runs, ray_executor, without_wall_times  # noqa: E402,F401


def test_entries_on_ray_give_the_in_process_tables(ray_executor, tmp_path):
    ex = ray_executor
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers train with the driver's thread count
    try:
        tasks = [get_task("wine", steps=10), get_task("diabetes", steps=10)]
        kw = dict(seeds=2, lrs=[0.1, 0.01], progress=None)
        run_transfer(["SGD", "Opt6"], tasks, out_dir=tmp_path / "here", **kw)
        run_transfer(["SGD", "Opt6"], tasks, out_dir=tmp_path / "ray", executor=ex, **kw)
    finally:
        torch.set_num_threads(threads)
    here, there = tmp_path / "here", tmp_path / "ray"
    for name in ("results.json", "transfer.md", "runs.csv"):
        assert (there / name).read_text() == (here / name).read_text(), name
    a, b = (json.loads((d / "transfer.json").read_text()) for d in (here, there))
    assert without_wall_times(b) == without_wall_times(a) and len(a["entries"]) == 6
    assert progress_runs(there) == progress_runs(here)
