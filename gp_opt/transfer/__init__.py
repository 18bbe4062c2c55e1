"""Transfer suite: score optimizers on held-out tasks unlike the search task, with the same
learning-rate grid and budget for every optimizer (docs/transfer.md).

* :class:`Task` -- a task written for one model; trained as a batched ensemble of seeds x rates;
* :func:`register_task`, :func:`get_task`, :func:`task_names` -- the task registry (and
  ``module:attribute`` for a user's own);
* :func:`run_transfer` -- the suite; :func:`write_outputs` -- its JSON/Markdown/CSV tables;
* :func:`compare` -- Welch's t-test verdict (win/tie/loss) against the reference.
"""
from gp_opt.transfer.registry import DEFAULT_TASKS, GPU_TASKS, get_task, register_task, task_names
from gp_opt.transfer.stats import compare
from gp_opt.transfer.suite import FILES, resolve_optimizer, run_transfer, write_outputs
from gp_opt.transfer.task import DEFAULT_TRANSFER_LRS, Splits, Task

__all__ = ["Task", "Splits", "DEFAULT_TRANSFER_LRS", "register_task", "get_task", "task_names", "DEFAULT_TASKS",
           "GPU_TASKS", "run_transfer", "write_outputs", "resolve_optimizer", "compare", "FILES"]
