"""Which training path a surrogate run takes: shared ensembles or one plain model at a time.

(This was ``gp_opt.surrogate.paths``; the calibration that times both paths is
:mod:`gp_opt.surrogate.calibration`, which trains models and so sits above
:mod:`gp_opt.surrogate.ensemble`, while this rule sits below it.)

The ensembles (:class:`~gp_opt.surrogate.model.EnsembleConvNet`, grouped convolutions) pay off
where one small model leaves the device idle: on a GPU always, on a CPU only for tiny shapes. At
the paper's shapes (base 48, batch 128, 32x32x3) a CPU trains the ensemble at about half the plain
loop's speed (grouped convolutions are slow there), while on 8x8 digits the ensemble is faster.

:func:`choose_batched` picks the path for a config when ``SurrogateConfig.batched`` is ``None``
(the default), so that no default is slower than the plain loop:

1. CUDA: ensembles.
2. CPU: a calibration cached for this machine and shape, when one was made
   (:func:`gp_opt.surrogate.calibration.calibrate`, e.g. by
   ``benchmarks/surrogate_throughput.py --calibrate``): ensembles iff they measured faster per
   model-step than the plain path.
3. CPU without a calibration: the measured rule -- ensembles iff the per-member convolution work
   is tiny (``base * image_side <= CPU_ENSEMBLE_MAX_WORK``, i.e. base <= 16 on 8x8 digits, never
   on 32x32 images); the plain loop otherwise.

The cache is a JSON file (``$GP_OPT_CACHE`` or ``~/.cache/gp_opt``/``paths.json``) keyed by the
CPU model, torch's thread count, the image shape, base and batch size.

>>> from gp_opt.surrogate import SurrogateConfig
>>> rule_batched("cpu", base=48, image_side=32)
False
>>> rule_batched("cpu", base=8, image_side=8)
True
>>> rule_batched("cuda", base=48, image_side=32)
True
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

__all__ = ["choose_batched", "rule_batched", "cache_path", "cache_key", "image_shape", "record_calibration",
           "clear_memo", "CPU_ENSEMBLE_MAX_WORK"]

#: The CPU rule's threshold on ``base * image_side`` (digits: 8 px; CIFAR: 32 px). Measured with
#: benchmarks/surrogate_throughput.py on this project's 2-core CPU: digits base 8 ensembles of 4
#: ran at 1.2-1.6x the plain loop, CIFAR's base 48 at 0.45-0.58x.
CPU_ENSEMBLE_MAX_WORK = 128

_memo: dict[str, bool] = {}


def cache_path() -> Path:
    root = os.environ.get("GP_OPT_CACHE") or str(Path.home() / ".cache" / "gp_opt")
    return Path(root) / "paths.json"


def _cpu_name() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return name


def cache_key(shape: tuple[int, ...], base: int, batch_size: int) -> str:
    """The cache's key: this CPU, torch's thread count, the image shape, base and batch size."""
    return f"{_cpu_name()}|threads={torch.get_num_threads()}|image={'x'.join(map(str, shape))}|" \
           f"base={base}|batch={batch_size}"


def _read_cache() -> dict[str, Any]:
    try:
        return json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}


def rule_batched(device_type: str, base: int, image_side: int) -> bool:
    """The static rule: always on CUDA; on a CPU only for tiny per-member work."""
    if device_type == "cuda":
        return True
    return int(base) * int(image_side) <= CPU_ENSEMBLE_MAX_WORK


def image_shape(cfg: Any, data: Any = None) -> tuple[int, ...]:
    """One image's shape (C, H, W): ``data``'s, else the configured dataset's."""
    if data is not None:
        return tuple(int(v) for v in data.x_train.shape[1:])
    return (1, 8, 8) if cfg.dataset == "digits" else (3, 32, 32)


def choose_batched(cfg: Any, data: Any = None) -> bool:
    """Ensembles (True) or the plain loop (False) for ``cfg`` (see the module docstring).
    An explicit ``cfg.batched`` (True/False) is returned as is."""
    if getattr(cfg, "batched", None) is not None:
        return bool(cfg.batched)
    device = data.device if data is not None else cfg.resolved_device()
    shape = image_shape(cfg, data)
    if device.type == "cuda":
        return True
    key = cache_key(shape, cfg.base, cfg.batch_size)
    if key not in _memo:
        entry = _read_cache().get(key)
        if isinstance(entry, dict) and isinstance(entry.get("batched"), bool):
            _memo[key] = entry["batched"]
        else:
            _memo[key] = rule_batched(device.type, cfg.base, shape[-1])
    return _memo[key]


def record_calibration(key: str, result: dict[str, Any], save: bool = True) -> None:
    """Use a calibration's choice for ``key`` from now on in this process and, with ``save``, in
    the cache file (replaced atomically; a read-only home keeps it for this process only)."""
    _memo[key] = bool(result["batched"])
    if not save:
        return
    cache = _read_cache()
    cache[key] = result
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(cache, indent=2, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: the choice still holds for this process


def clear_memo() -> None:
    """Forget the choices made in this process (the cache file is read again on the next one)."""
    _memo.clear()
