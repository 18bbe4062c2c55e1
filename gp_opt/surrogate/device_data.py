"""The protocol's datasets, normalised and kept resident on their device across evaluations."""
from __future__ import annotations

from collections import OrderedDict

from gp_opt.data import DeviceData, load_dataset
from gp_opt.surrogate.config import SurrogateConfig

__all__ = ["get_device_data"]

_DATA_CACHE: "OrderedDict[tuple, DeviceData]" = OrderedDict()


def get_device_data(cfg: SurrogateConfig) -> DeviceData:
    """The config's dataset, normalised and resident on its device (cached: 2 most recent)."""
    device = cfg.resolved_device()
    key = (cfg.dataset, cfg.data_dir, cfg.val_fraction, cfg.seed, str(device))
    if key in _DATA_CACHE:
        _DATA_CACHE.move_to_end(key)
        return _DATA_CACHE[key]
    ds = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download, val_fraction=cfg.val_fraction,
                      seed=cfg.seed)
    dd = ds.to_device(device)
    _DATA_CACHE[key] = dd
    # at most 2 large sets (CIFAR on a GPU), but many small ones: a search scores each candidate
    # on its own evaluation seed, and on digits the seed also draws the split
    while len(_DATA_CACHE) > 2 and (len(_DATA_CACHE) > _SMALL_SETS_KEPT
                                    or sum(_nbytes(d) for d in _DATA_CACHE.values()) > _SMALL_BYTES):
        _DATA_CACHE.popitem(last=False)
    return dd


_SMALL_SETS_KEPT = 16
_SMALL_BYTES = 64 * 2 ** 20


def _nbytes(dd: DeviceData) -> int:
    return sum(t.numel() * t.element_size() for t in (dd.x_train, dd.y_train, dd.x_val, dd.y_val))
