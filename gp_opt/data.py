"""Datasets for the surrogate fitness: CIFAR-10/100, scikit-learn's digits, and a user's ``.npz``.

Everything here is plain torch + numpy (no torchvision). A :class:`Dataset` holds NCHW tensors on the
CPU; :meth:`Dataset.to_device` turns it into a :class:`DeviceData` (normalised float tensors resident
on the training device) from which :class:`BatchStream` draws augmented batches without any
host round trip.

>>> ds = load_dataset("digits")
>>> ds.x_train.shape[1:], ds.num_classes
(torch.Size([1, 8, 8]), 10)
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gp_opt.cifar_pickle import read_batch
from gp_opt.errors import DataError
from gp_opt.textfile import check_regular_file

__all__ = [
    "Dataset",
    "DeviceData",
    "AugmentConfig",
    "BatchStream",
    "augment_batch",
    "load_dataset",
    "load_cifar",
    "load_digits",
    "load_npz",
    "download_and_extract",
    "default_data_dir",
    "DATASETS",
    "CIFAR_ARCHIVES",
]

#: The official archives: name -> (url, md5, folder inside the archive, train files, test files).
CIFAR_ARCHIVES: dict[str, dict[str, Any]] = {
    "cifar10": {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "md5": "c58f30108f718f92721af3b95e74349a",
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "label_key": "labels",
        "num_classes": 10,
    },
    "cifar100": {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "md5": "eb9058c3a382ffc7106e4002c42a8d85",
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "label_key": "fine_labels",
        "num_classes": 100,
    },
}

DATASETS = ("digits", "cifar10", "cifar100", "npz")

#: CIFAR's validation split: the last 5,000 training images (SPEC section 6).
CIFAR_VAL_SIZE = 5000


def default_data_dir() -> Path:
    """``$GP_OPT_DATA`` if set, else ``~/.cache/gp_opt/data``."""
    env = os.environ.get("GP_OPT_DATA")
    return Path(env).expanduser() if env else Path("~/.cache/gp_opt/data").expanduser()


# ----------------------------------------------------------------------------------------------
# The dataset record
# ----------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Train/validation (and optional test) images as NCHW tensors on the CPU.

    ``x_*`` are ``uint8`` in 0..255 or ``float32`` in [0, 1]; ``y_*`` are ``int64`` class indices.
    ``mean``/``std`` are per-channel statistics of the training split on the [0, 1] scale.
    ``flip_ok`` says whether horizontal flips preserve the label (not for digits).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None
    flip_ok: bool = True
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.x_train.shape[2]), int(self.x_train.shape[3])

    def __repr__(self) -> str:  # keep tensors out of the repr
        return (
            f"Dataset({self.name!r}, train={tuple(self.x_train.shape)}, val={tuple(self.x_val.shape)}, "
            f"classes={self.num_classes})"
        )

    def to_device(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> "DeviceData":
        """Normalised copies of the train and validation splits, resident on ``device``."""
        device = torch.device(device)
        mean = torch.tensor(self.mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(1, -1, 1, 1)

        def prep(x: torch.Tensor) -> torch.Tensor:
            x = x.to(device)
            x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
            return ((x - mean.to(device)) / std.to(device)).to(dtype).contiguous()

        return DeviceData(
            name=self.name,
            x_train=prep(self.x_train),
            y_train=self.y_train.to(device=device, dtype=torch.long),
            x_val=prep(self.x_val),
            y_val=self.y_val.to(device=device, dtype=torch.long),
            num_classes=self.num_classes,
            flip_ok=self.flip_ok,
        )


@dataclass
class DeviceData:
    """Normalised float tensors on the training device (what the training loops read)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int
    flip_ok: bool = True

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.x_train.shape[2]), int(self.x_train.shape[3])


def _channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    xf = x.double() / 255.0 if x.dtype == torch.uint8 else x.double()
    mean = xf.mean(dim=(0, 2, 3))
    std = xf.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def _split_tail(x: torch.Tensor, y: torch.Tensor, n_val: int):
    return x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:]


def _split_fraction(x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int, what: str):
    if not 0.0 < fraction < 1.0:
        raise DataError(f"{what}: val_fraction must be strictly between 0 and 1, got {fraction}")
    n = int(x.shape[0])
    n_val = max(1, int(round(n * fraction)))
    if n_val >= n:
        raise DataError(f"{what}: {n} training examples are too few to hold out a validation split")
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    x, y = x[perm], y[perm]
    return x[n_val:], y[n_val:], x[:n_val], y[:n_val]


# ----------------------------------------------------------------------------------------------
# Loaders
# ----------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
    path: str | os.PathLike | None = None,
) -> Dataset:
    """Load a dataset by name: ``digits`` | ``cifar10`` | ``cifar100`` | ``npz``.

    ``data_dir`` is where CIFAR's batch files live (the folder holding ``cifar-10-batches-py``, or
    that folder itself); ``download=True`` fetches the official archive there first. For ``npz``,
    ``path`` (or ``data_dir``) is the file. ``val_fraction``/``seed`` fix the validation split of
    sets that have none of their own (CIFAR always holds out its last 5,000 training images).
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key == "digits":
        return load_digits(val_fraction=val_fraction, seed=seed)
    if key in CIFAR_ARCHIVES:
        return load_cifar(key, data_dir=data_dir, download=download)
    if key == "npz" or str(name).endswith(".npz"):
        file = path if path is not None else (data_dir if key == "npz" else name)
        if file is None:
            raise DataError("dataset 'npz' needs a file: pass path= (or --data-dir FILE.npz)")
        return load_npz(file, val_fraction=val_fraction, seed=seed)
    raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def load_digits(val_fraction: float = 0.1, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1,797 images, offline) as 1x8x8 float images in [0, 1]."""
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    xt, yt, xv, yv = _split_fraction(x, y, val_fraction, seed, "digits")
    mean, std = _channel_stats(xt)
    return Dataset("digits", xt, yt, xv, yv, 10, mean, std, flip_ok=False,
                   info={"val_fraction": val_fraction, "seed": seed})


def _cifar_folder(spec: dict[str, Any], data_dir: Path) -> Path | None:
    for cand in (data_dir / spec["folder"], data_dir):
        if all((cand / f).is_file() for f in spec["train"] + spec["test"]):
            return cand
    return None


def load_cifar(name: str = "cifar10", data_dir: str | os.PathLike | None = None, download: bool = False) -> Dataset:
    """CIFAR-10/100 from the official "python version" batch files.

    The last 5,000 training images are the validation split (SPEC section 6); ``test_batch``/``test``
    becomes ``x_test``/``y_test``.
    """
    if name not in CIFAR_ARCHIVES:
        raise DataError(f"unknown CIFAR variant {name!r}; choose cifar10 or cifar100")
    spec = CIFAR_ARCHIVES[name]
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    folder = _cifar_folder(spec, root)
    if folder is None and download:
        download_and_extract(spec["url"], spec["md5"], root)
        folder = _cifar_folder(spec, root)
    if folder is None:
        expected = ", ".join(spec["train"] + spec["test"])
        raise DataError(
            f"{name}: batch files not found in {root} (looked in {root / spec['folder']} and {root}); "
            f"expected {expected}. Pass --download (download=True) to fetch {spec['url']}, "
            f"or --data-dir pointing at the unpacked '{spec['folder']}' folder"
        )
    label_key, n_cls = spec["label_key"], spec["num_classes"]
    # read without running code, each file checked (uint8 N x 3072 images, labels 0..n_cls-1)
    parts = [read_batch(folder / f, label_key, n_cls) for f in spec["train"]]
    x = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    xte, yte = read_batch(folder / spec["test"][0], label_key, n_cls)
    n_val = CIFAR_VAL_SIZE if x.shape[0] > 2 * CIFAR_VAL_SIZE else max(1, x.shape[0] // 10)
    xt, yt, xv, yv = _split_tail(x, y, n_val)
    mean, std = _channel_stats(xt)
    return Dataset(name, xt, yt, xv, yv, n_cls, mean, std, torch.from_numpy(np.ascontiguousarray(xte)),
                   torch.from_numpy(yte),
                   flip_ok=True, info={"folder": str(folder), "val_size": n_val})


def _md5(file: Path) -> str:
    h = hashlib.md5()
    with open(file, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _make_dirs(dest: Path) -> list[Path]:
    """Create ``dest`` and its missing parents; the folders created, deepest first."""
    missing = []
    for folder in (dest, *dest.parents):
        if folder.exists():
            break
        missing.append(folder)
    dest.mkdir(parents=True, exist_ok=True)
    return missing


def download_and_extract(url: str, md5: str, dest: str | os.PathLike) -> Path:
    """Fetch ``url`` into ``dest``, verify its MD5, and unpack the tar archive there.

    A partial or corrupt download never lands in ``dest``; a wrong checksum is a :class:`DataError`.
    ``dest`` is created only once the server answers: without a network nothing is written.
    """
    dest = Path(dest).expanduser()
    archive = dest / Path(urllib.request.url2pathname(url.rsplit("/", 1)[-1])).name
    if not (archive.is_file() and _md5(archive) == md5):
        try:
            resp = urllib.request.urlopen(url)  # noqa: S310 - fixed URLs
        except OSError as e:
            raise DataError(f"could not download {url}: {e}") from None
        with resp:
            created = _make_dirs(dest)
            fd, tmp = tempfile.mkstemp(dir=dest, suffix=".part")
            os.close(fd)
            try:
                try:
                    with open(tmp, "wb") as out:
                        shutil.copyfileobj(resp, out)
                except OSError as e:
                    raise DataError(f"could not download {url}: {e}") from None
                got = _md5(Path(tmp))
                if got != md5:
                    raise DataError(f"{url}: MD5 mismatch (expected {md5}, got {got}); the download is corrupt")
                os.replace(tmp, archive)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                    for folder in created:  # a failed download leaves no folder it made behind
                        try:
                            folder.rmdir()
                        except OSError:
                            break
    try:
        with tarfile.open(archive, "r:*") as tar:
            try:
                tar.extractall(dest, filter="data")
            except TypeError:  # Python without extraction filters
                for m in tar.getmembers():
                    if m.name.startswith(("/", "..")) or ".." in Path(m.name).parts:
                        raise DataError(f"{archive}: unsafe member path {m.name!r}")
                tar.extractall(dest)
    except tarfile.TarError as e:
        raise DataError(f"{archive}: cannot unpack ({e})") from None
    return dest


def load_npz(file: str | os.PathLike, val_fraction: float = 0.1, seed: int = 0) -> Dataset:
    """A user's arrays: ``x_train``, ``y_train`` and optionally ``x_val``, ``y_val``.

    Images are ``(N, H, W)`` (one channel), ``(N, C, H, W)`` or ``(N, H, W, C)`` with C in {1, 3, 4}
    (channels-last is detected when the last axis is small and the second is not), ``uint8`` (0..255)
    or float (scaled to [0, 1] per the data's own range when it leaves [0, 1]); labels are integers
    in ``0..K-1``. Without ``x_val`` a seeded ``val_fraction`` of the training set is held out.
    """
    file = Path(file).expanduser()
    if not file.exists():
        raise DataError(f"npz dataset {file}: no such file")
    check_regular_file(file, DataError)  # a named pipe would block the reader
    try:
        npz = np.load(file, allow_pickle=False)
        arrays = {k: npz[k] for k in npz.files}
    except Exception as e:  # noqa: BLE001
        raise DataError(f"npz dataset {file}: cannot read ({type(e).__name__}: {e})") from None
    for k in ("x_train", "y_train"):
        if k not in arrays:
            raise DataError(f"npz dataset {file}: missing array {k!r} (found {sorted(arrays)})")
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise DataError(f"npz dataset {file}: x_val and y_val must be given together")

    def images(key: str) -> torch.Tensor:
        a = arrays[key]
        if a.dtype != np.uint8 and not np.issubdtype(a.dtype, np.floating):
            raise DataError(f"npz dataset {file}: {key} must be uint8 or float, got {a.dtype}")
        if a.ndim == 3:
            a = a[:, None]
        elif a.ndim == 4:
            if a.shape[-1] in (1, 3, 4) and a.shape[1] not in (1, 3, 4):
                a = np.transpose(a, (0, 3, 1, 2))
        else:
            raise DataError(f"npz dataset {file}: {key} must have shape (N,H,W), (N,C,H,W) or (N,H,W,C), got {a.shape}")
        if a.shape[0] == 0:
            raise DataError(f"npz dataset {file}: {key} is empty")
        if np.issubdtype(a.dtype, np.floating):
            if not np.all(np.isfinite(a)):
                raise DataError(f"npz dataset {file}: {key} contains NaN or inf")
            a = a.astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(a))

    def labels(key: str, n: int) -> torch.Tensor:
        a = arrays[key]
        if not np.issubdtype(a.dtype, np.integer):
            raise DataError(f"npz dataset {file}: {key} must hold integer class indices, got {a.dtype}")
        if a.ndim != 1 or a.shape[0] != n:
            raise DataError(f"npz dataset {file}: {key} must have shape ({n},) to match the images, got {a.shape}")
        return torch.from_numpy(a.astype(np.int64))

    xt = images("x_train")
    yt = labels("y_train", xt.shape[0])
    if "x_val" in arrays:
        xv = images("x_val")
        yv = labels("y_val", xv.shape[0])
        if xv.shape[1:] != xt.shape[1:]:
            raise DataError(f"npz dataset {file}: x_val images {tuple(xv.shape[1:])} differ from x_train {tuple(xt.shape[1:])}")
        if xv.dtype != xt.dtype:
            raise DataError(f"npz dataset {file}: x_val dtype {xv.dtype} differs from x_train {xt.dtype}")
    else:
        xt, yt, xv, yv = _split_fraction(xt, yt, val_fraction, seed, f"npz dataset {file}")
    if int(yt.min()) < 0:
        raise DataError(f"npz dataset {file}: labels must be >= 0, found {int(yt.min())}")
    num_classes = int(max(int(yt.max()), int(yv.max()))) + 1
    if num_classes < 2:
        raise DataError(f"npz dataset {file}: need at least 2 classes")
    if int(yv.min()) < 0:
        raise DataError(f"npz dataset {file}: y_val labels must be >= 0, found {int(yv.min())}")
    if int(yv.max()) > int(yt.max()):
        raise DataError(f"npz dataset {file}: y_val has label {int(yv.max())} never seen in y_train (0..{int(yt.max())})")
    if xt.dtype == torch.float32:
        lo, hi = float(min(xt.min(), xv.min())), float(max(xt.max(), xv.max()))
        if lo < 0.0 or hi > 1.0:  # rescale to [0, 1] so the per-channel statistics are comparable
            scale = (hi - lo) or 1.0
            xt, xv = (xt - lo) / scale, (xv - lo) / scale
    if min(xt.shape[2], xt.shape[3]) < 2:
        raise DataError(f"npz dataset {file}: images must be at least 2x2, got {tuple(xt.shape[2:])}")
    mean, std = _channel_stats(xt)
    return Dataset(f"npz:{file.name}", xt, yt, xv, yv, num_classes, mean, std, flip_ok=True,
                   info={"file": str(file)})


# ----------------------------------------------------------------------------------------------
# Augmentation on the device, in batches
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AugmentConfig:
    """Evolution-time augmentation (SPEC section 6): reflect-pad, random crop, flip, cutout.

    ``pad`` and ``cutout`` are in pixels (0 disables); :meth:`for_image` scales CIFAR's 4 and 8
    to other image sizes (8x8 digits: pad 1, cutout 2).
    """

    pad: int = 4
    flip: bool = True
    cutout: int = 8

    @classmethod
    def for_image(cls, size: tuple[int, int], flip: bool = True, pad: int | None = None,
                  cutout: int | None = None) -> "AugmentConfig":
        s = min(size)
        p = pad if pad is not None else max(1, round(4 * s / 32))
        c = cutout if cutout is not None else max(1, round(8 * s / 32))
        return cls(pad=min(p, s - 1), flip=flip, cutout=c)

    @property
    def active(self) -> bool:
        return self.pad > 0 or self.flip or self.cutout > 0


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a batch ``x`` (N, C, H, W) on its own device; a new tensor, ``x`` is not touched.

    Reflect-pad by ``cfg.pad`` then crop a random HxW window per image, flip each image left-right
    with probability 1/2, and zero a ``cutout`` x ``cutout`` square (clipped at the border) at a
    uniformly random centre. Zero is the channel mean once the data are normalised.
    """
    n, c, h, w = x.shape
    dev = x.device
    if cfg.pad > 0:
        p = cfg.pad
        xp = F.pad(x, (p, p, p, p), mode="reflect")
        oy = torch.randint(0, 2 * p + 1, (n,), device=dev, generator=generator)
        ox = torch.randint(0, 2 * p + 1, (n,), device=dev, generator=generator)
        rows = (oy[:, None] + torch.arange(h, device=dev)[None, :])  # n, h
        cols = (ox[:, None] + torch.arange(w, device=dev)[None, :])  # n, w
        idx = (rows[:, :, None] * (w + 2 * p) + cols[:, None, :]).view(n, 1, h * w).expand(n, c, h * w)
        x = xp.reshape(n, c, -1).gather(2, idx).view(n, c, h, w)
    if cfg.flip:
        flip = torch.rand(n, device=dev, generator=generator) < 0.5
        x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
    if cfg.cutout > 0:
        cy = torch.randint(0, h, (n,), device=dev, generator=generator)
        cx = torch.randint(0, w, (n,), device=dev, generator=generator)
        lo_y = cy - cfg.cutout // 2
        lo_x = cx - cfg.cutout // 2
        ar_h = torch.arange(h, device=dev)[None, :]
        ar_w = torch.arange(w, device=dev)[None, :]
        in_y = (ar_h >= lo_y[:, None]) & (ar_h < lo_y[:, None] + cfg.cutout)  # n, h
        in_x = (ar_w >= lo_x[:, None]) & (ar_w < lo_x[:, None] + cfg.cutout)  # n, w
        hole = (in_y[:, :, None] & in_x[:, None, :]).unsqueeze(1)  # n, 1, h, w
        x = x.masked_fill(hole, 0.0)
    return x


class BatchStream:
    """Endless seeded mini-batches from device-resident data: shuffled epochs, then augmentation.

    Every random draw (order, crop, flip, cutout) comes from one ``torch.Generator`` on the data's
    device, so the same seed gives the same batches and there is no host round trip per batch.
    The last partial batch of an epoch is dropped (a new permutation starts instead).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0,
                 augment: AugmentConfig | None = None):
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.x, self.y = x, y
        self.n = int(x.shape[0])
        self.batch_size = min(int(batch_size), self.n)
        self.augment = augment if (augment is not None and augment.active) else None
        self.generator = torch.Generator(device=x.device)
        self.generator.manual_seed(int(seed))
        self._perm: torch.Tensor | None = None
        self._pos = self.n

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.next()

    def peek(self) -> torch.Tensor:
        """A batch-shaped input (the first images, not augmented) without advancing the stream."""
        return self.x[:self.batch_size]

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._pos + self.batch_size > self.n:
            self._perm = torch.randperm(self.n, device=self.x.device, generator=self.generator)
            self._pos = 0
        idx = self._perm[self._pos:self._pos + self.batch_size]
        self._pos += self.batch_size
        xb = self.x.index_select(0, idx)
        yb = self.y.index_select(0, idx)
        if self.augment is not None:
            xb = augment_batch(xb, self.augment, self.generator)
        return xb, yb
