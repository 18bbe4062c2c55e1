"""The built-in transfer tasks: held-out problems unlike the search task (the surrogate ConvNet on
digits). All run offline on a CPU in seconds per optimizer at their default budgets, except the
CIFAR ConvNets (GPU; need the data).

* :class:`DigitsMLP` -- a different architecture on the search's data: a two-hidden-layer ReLU MLP
  on scikit-learn's 8x8 digits (accuracy);
* :class:`CharLM` -- a different modality: a one-block causal Transformer language model over
  characters of Python's own standard-library source (validation bits per character);
* :class:`Tabular` -- scikit-learn's bundled tables: ``diabetes`` (regression, R^2),
  ``breast_cancer`` (binary, accuracy), ``wine`` (3 classes, accuracy) with a small MLP;
* :class:`CifarConvNet` -- the surrogate's ConvNet (SPEC section 6) at a larger base on
  CIFAR-10/100, trained by :func:`gp_opt.surrogate.ensemble.train_members` (grouped-convolution
  ensembles; GPU).
"""
from __future__ import annotations

import math
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gp_opt.errors import DataError, GpOptError
from gp_opt.transfer.task import Splits, Task

__all__ = ["DigitsMLP", "CharLM", "Tabular", "CifarConvNet", "STDLIB_FILES"]


def _split(n: int, seed: int, fractions: tuple[float, float] = (0.2, 0.2)) -> tuple[np.ndarray, ...]:
    """A seeded permutation cut into train / val / test index arrays (val and test fractions)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val, n_test = int(round(fractions[0] * n)), int(round(fractions[1] * n))
    return order[n_val + n_test:], order[:n_val], order[n_val:n_val + n_test]


def _standardised(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
    return ((x - mean) / std).astype(np.float32)


def _dense(gen: torch.Generator, fan_in: int, fan_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """He-uniform-like weights (out, in) and zero biases."""
    bound = math.sqrt(6.0 / fan_in) / math.sqrt(2.0)
    return (torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * bound, torch.zeros(fan_out)


def _mlp_init(gen: torch.Generator, sizes: list[int]) -> dict[str, torch.Tensor]:
    p = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        p[f"w{i}"], p[f"b{i}"] = _dense(gen, a, b)
    return p


def _mlp(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    n = len(p) // 2
    for i in range(n):
        x = F.linear(x, p[f"w{i}"], p[f"b{i}"])
        if i < n - 1:
            x = F.relu(x)
    return x


def _classification(logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"accuracy": (logits.argmax(-1) == y).float().mean(), "loss": F.cross_entropy(logits, y)}


@dataclass(frozen=True)
class DigitsMLP(Task):
    """64-``hidden``-``hidden``-10 ReLU MLP on the 1,797 8x8 digits (60/20/20 split)."""

    name: str = "digits-mlp"
    hidden: int = 64
    steps: int = 300
    batch: int = 64
    metric: str = "accuracy"

    def load(self) -> Splits:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        tr, va, te = _split(len(x), self.seed)
        x = torch.from_numpy(_standardised(x.astype(np.float32), tr))
        y = torch.from_numpy(y).long()
        return Splits((x[tr], y[tr]), (x[va], y[va]), (x[te], y[te]))

    def init_params(self, gen: torch.Generator, data: Splits) -> dict[str, torch.Tensor]:
        return _mlp_init(gen, [64, self.hidden, self.hidden, 10])

    def loss(self, p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(_mlp(p, x), y)

    def metrics(self, p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        return _classification(_mlp(p, x), y)


#: the standard-library modules whose source is the language model's text (read in this order;
#: ones missing from an installation are skipped, so the text is the same on one Python version)
STDLIB_FILES = ("argparse.py", "textwrap.py", "difflib.py", "string.py", "fractions.py", "shlex.py",
                "calendar.py", "heapq.py", "bisect.py", "contextlib.py", "dataclasses.py", "pprint.py")

#: the character vocabulary: tab, newline and printable ASCII; everything else maps to id 0
_VOCAB = "\x00\t\n" + "".join(chr(c) for c in range(32, 127))


@dataclass(frozen=True)
class CharLM(Task):
    """Character-level language model: one pre-LayerNorm Transformer block (``heads`` causal
    attention heads, width ``dim``, ReLU MLP 4x) over windows of ``context`` characters of the Python
    standard library's own source (:data:`STDLIB_FILES`, the first ``chars`` characters, cut
    80/10/10 into contiguous train/val/test). Metric: bits per character (lower is better)."""

    name: str = "charlm"
    dim: int = 32
    heads: int = 2
    context: int = 32
    chars: int = 300_000
    steps: int = 200
    batch: int = 16
    metric: str = "bpc"
    higher_is_better: bool = False
    eval_windows: int = 128
    eval_chunk: int = 64

    def load(self) -> Splits:
        root = Path(sysconfig.get_paths()["stdlib"])
        parts = []
        for name in STDLIB_FILES:
            f = root / name
            if f.is_file():
                parts.append(f.read_text(encoding="utf-8", errors="replace"))
        text = "\n".join(parts)[: self.chars]
        if len(text) < 20 * (self.context + 1):
            raise DataError(f"charlm: found only {len(text)} characters of standard-library source under {root}")
        lookup = np.zeros(256, dtype=np.int64)  # byte -> id; non-ASCII bytes are id 0
        for i, c in enumerate(_VOCAB):
            lookup[ord(c)] = i
        codes = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        ids = torch.from_numpy(lookup[codes])
        n = len(ids)
        a, b = int(0.8 * n), int(0.9 * n)
        win = self.context + 1
        train = ids[:a].unfold(0, win, 1)  # every window (a view): random windows per batch

        def fixed(seq: torch.Tensor) -> torch.Tensor:
            w = seq[: (len(seq) // win) * win].view(-1, win)  # non-overlapping
            step = max(1, len(w) // self.eval_windows)
            return w[::step][: self.eval_windows].contiguous()

        return Splits((train,), (fixed(ids[a:b]),), (fixed(ids[b:]),))

    def init_params(self, gen: torch.Generator, data: Splits) -> dict[str, torch.Tensor]:
        d, v = self.dim, len(_VOCAB)

        def n(*shape: int, std: float) -> torch.Tensor:
            return torch.randn(*shape, generator=gen) * std

        return {"emb": n(v, d, std=0.1), "pos": n(self.context, d, std=0.1),
                "ln1": torch.ones(d), "qkv": n(3 * d, d, std=d ** -0.5), "proj": n(d, d, std=(2 * d) ** -0.5),
                "ln2": torch.ones(d), "fc1": n(4 * d, d, std=d ** -0.5), "fc1_b": torch.zeros(4 * d),
                "fc2": n(d, 4 * d, std=(8 * d) ** -0.5), "ln3": torch.ones(d),
                "head": n(v, d, std=d ** -0.5), "head_b": torch.zeros(v)}

    def _logits(self, p: dict[str, torch.Tensor], ids: torch.Tensor) -> torch.Tensor:
        b, length = ids.shape
        d, h = self.dim, self.heads
        x = p["emb"][ids] + p["pos"][:length]
        y = F.layer_norm(x, (d,), p["ln1"])
        q, k, v = F.linear(y, p["qkv"]).view(b, length, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-1, -2)) * (d // h) ** -0.5
        mask = torch.ones(length, length, dtype=torch.bool).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        x = x + F.linear((att @ v).transpose(1, 2).reshape(b, length, d), p["proj"])
        y = F.layer_norm(x, (d,), p["ln2"])
        x = x + F.linear(F.relu(F.linear(y, p["fc1"], p["fc1_b"])), p["fc2"])
        return F.linear(F.layer_norm(x, (d,), p["ln3"]), p["head"], p["head_b"])

    def loss(self, p: dict[str, torch.Tensor], win: torch.Tensor) -> torch.Tensor:
        logits = self._logits(p, win[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), win[:, 1:].reshape(-1))

    def metrics(self, p: dict[str, torch.Tensor], win: torch.Tensor) -> dict[str, torch.Tensor]:
        nats = self.loss(p, win)
        return {"bpc": nats / math.log(2), "loss": nats}


#: scikit-learn's bundled tables: name -> (loader name, task kind)
TABLES = {"diabetes": ("load_diabetes", "regression"), "breast_cancer": ("load_breast_cancer", "binary"),
          "wine": ("load_wine", "classes")}


@dataclass(frozen=True)
class Tabular(Task):
    """A ``hidden``-unit ReLU MLP on one of scikit-learn's bundled tables (:data:`TABLES`),
    60/20/20 split, standardised features (and target, for regression). Metric: R^2 for
    ``diabetes``, accuracy otherwise."""

    name: str = "diabetes"
    dataset: str = "diabetes"
    hidden: int = 32
    steps: int = 200
    batch: int = 32
    metric: str = "r2"

    def __post_init__(self) -> None:
        if self.dataset not in TABLES:
            raise GpOptError(f"unknown table {self.dataset!r}; known: {', '.join(TABLES)}")
        want = "r2" if TABLES[self.dataset][1] == "regression" else "accuracy"
        if self.metric != want:
            object.__setattr__(self, "metric", want)

    @property
    def kind(self) -> str:
        return TABLES[self.dataset][1]

    def load(self) -> Splits:
        import sklearn.datasets as skd

        x, y = getattr(skd, TABLES[self.dataset][0])(return_X_y=True)
        tr, va, te = _split(len(x), self.seed)
        x = torch.from_numpy(_standardised(x.astype(np.float32), tr))
        if self.kind == "regression":
            y = torch.from_numpy(_standardised(y.astype(np.float32)[:, None], tr)[:, 0])
        else:
            y = torch.from_numpy(y).long()
        return Splits((x[tr], y[tr]), (x[va], y[va]), (x[te], y[te]))

    def _outputs(self) -> int:
        return {"regression": 1, "binary": 2, "classes": 3}[self.kind]

    def init_params(self, gen: torch.Generator, data: Splits) -> dict[str, torch.Tensor]:
        return _mlp_init(gen, [int(data.train[0].shape[1]), self.hidden, self._outputs()])

    def loss(self, p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = _mlp(p, x)
        return F.mse_loss(out[:, 0], y) if self.kind == "regression" else F.cross_entropy(out, y)

    def metrics(self, p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        out = _mlp(p, x)
        if self.kind != "regression":
            return _classification(out, y)
        mse = F.mse_loss(out[:, 0], y)
        return {"r2": 1 - mse / ((y - y.mean()) ** 2).mean(), "mse": mse}

    def combine(self, chunks: list[dict[str, torch.Tensor]], sizes: list[int]) -> dict[str, torch.Tensor]:
        if self.kind == "regression":
            raise GpOptError("tabular R^2 needs the whole split in one chunk: raise eval_chunk")
        return super().combine(chunks, sizes)


@dataclass(frozen=True)
class CifarConvNet(Task):
    """The surrogate's ConvNet (SPEC section 6) at base ``base`` on CIFAR-10/100 from ``data_dir``,
    trained ``steps`` steps (warm-up ``warmup`` of them) by the surrogate's own ensemble engine
    (all learning rates of a seed as one grouped-convolution ensemble). Metric: the best
    validation accuracy of the run (the surrogate's validation split, the last 5,000 training
    images; the reported ``test`` figure is that same number: this task has no second held-out
    split). Needs a GPU for its default budget; CPU only for tiny smoke settings. ``dataset`` is
    any of the surrogate's (``cifar10``, ``cifar100``, ``npz`` with ``data_dir`` the file)."""

    name: str = "cifar10-convnet"
    dataset: str = "cifar10"
    data_dir: str | None = None
    base: int = 96
    steps: int = 8000
    batch: int = 128
    warmup: float = 0.1
    metric: str = "accuracy"
    device: str = "auto"

    def _config(self) -> Any:
        from gp_opt.surrogate import SurrogateConfig

        if not self.data_dir:
            raise DataError(f"{self.name}: needs the CIFAR data: pass --data-dir")
        return SurrogateConfig.preset("paper", dataset=self.dataset, data_dir=self.data_dir, base=self.base,
                                      batch_size=self.batch, total_steps=self.steps,
                                      warmup_steps=self.warmup_steps, eval_every=max(1, self.steps // 10),
                                      stop_check_after=self.steps, device=self.device, seed=self.seed,
                                      # no screen here (every rate of the grid trains in full); the
                                      # screen's numbers only have to be consistent with the budget
                                      screen_steps=min(800, self.steps), screen_cut_step=min(600, self.steps),
                                      acc_window=min(100, self.steps), check_every=min(100, self.steps))

    def load(self) -> Splits:
        raise GpOptError(f"{self.name}: runs through the surrogate's engine (train_members), not load()")

    def init_params(self, gen: torch.Generator, data: Splits) -> dict[str, torch.Tensor]:
        raise GpOptError(f"{self.name}: runs through the surrogate's engine")

    def loss(self, p: dict[str, torch.Tensor], *batch: torch.Tensor) -> torch.Tensor:
        raise GpOptError(f"{self.name}: runs through the surrogate's engine")

    def metrics(self, p: dict[str, torch.Tensor], *split: torch.Tensor) -> dict[str, torch.Tensor]:
        raise GpOptError(f"{self.name}: runs through the surrogate's engine")

    def train_members(self, stepper: Any, seeds: list[int], lrs: list[float], batched: bool = True) -> list[dict]:
        """One surrogate ensemble per seed over all of ``lrs`` (``stepper.factory`` builds the optimizer)."""
        from gp_opt.surrogate.ensemble import train_members
        from gp_opt.surrogate.protocol import get_device_data

        cfg = self._config()
        data = get_device_data(cfg)
        factory = getattr(stepper, "surrogate_factory", None)
        if factory is None:
            raise GpOptError(f"{self.name}: optimizer {stepper.label} has no surrogate factory")
        out = []
        for s in seeds:
            runs = train_members([(factory, lr) for lr in lrs], data, cfg, run_steps=self.steps,
                                 total_steps=self.steps, warmup_steps=self.warmup_steps, mode="full",
                                 batched=batched, seed=1000 * int(s) + int(self.seed))
            for lr, r in zip(lrs, runs):
                ok = r.get("status") in ("ok", "stopped") and math.isfinite(float(r.get("best_val_acc", math.nan)))
                acc = float(r.get("best_val_acc", math.nan))
                out.append({"seed": int(s), "lr": float(lr), "status": "ok" if ok else "failed",
                            "reason": None if ok else (r.get("reason") or r.get("status")),
                            "steps": int(r.get("steps", 0)), "train_loss": float(r.get("train_loss", math.nan)),
                            "val": {"accuracy": acc}, "test": {"accuracy": acc},
                            "seconds": float(r.get("seconds", math.nan))})
        return out

    def _train(self, factory: Any, lr: float) -> tuple[float, dict[str, Any]]:
        raise GpOptError(f"{self.name} is a transfer task only; search with --task surrogate instead")
