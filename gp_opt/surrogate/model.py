"""The surrogate network (SPEC section 6) and its batched ensemble form.

``ConvNet(base)``: conv3x3(b) - BN - swish; conv3x3(2b, stride 2) - BN - swish;
conv3x3(4b, stride 2) - BN - swish; global average pool; dropout 0.2; linear.

The convolutions carry no bias (BatchNorm follows each one). The paper's parameter counts
(base 48: 0.212M, 64: 0.375M, 96: 0.839M, 128: 1.487M on CIFAR-10) are Keras totals, which count
BatchNorm's moving mean and variance as (non-trainable) parameters: :func:`count_parameters`
reproduces that convention by default.

:class:`EnsembleConvNet` runs K ConvNets that share an input batch as one set of kernels: the first
convolution stacks the K members' filters, the later ones are grouped convolutions (``groups=K``),
BatchNorm runs over the K*channels at once (so each member keeps its own batch and running
statistics, which are views into the members' own buffers) and the classifier is one batched
matmul. Each member keeps its own leaf parameters, so any torch optimizer with one param group per
member (each with its own ``lr``) trains the ensemble exactly as it would train K separate models.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ConvNet", "EnsembleConvNet", "count_parameters"]


class ConvNet(nn.Module):
    """The paper's surrogate ConvNet with ``base`` channels in its first layer."""

    def __init__(self, base: int = 48, num_classes: int = 10, in_channels: int = 3, dropout: float = 0.2,
                 bn_momentum: float = 0.1, bn_eps: float = 1e-5):
        super().__init__()
        if base < 1 or num_classes < 1 or in_channels < 1:
            raise ValueError("base, num_classes and in_channels must be positive")
        self.base, self.num_classes, self.in_channels, self.dropout = base, num_classes, in_channels, dropout
        widths = (base, 2 * base, 4 * base)
        strides = (1, 2, 2)
        cin = in_channels
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for cout, s in zip(widths, strides):
            self.convs.append(nn.Conv2d(cin, cout, 3, stride=s, padding=1, bias=False))
            self.bns.append(nn.BatchNorm2d(cout, eps=bn_eps, momentum=bn_momentum))
            cin = cout
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(4 * base, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for conv, bn in zip(self.convs, self.bns):
            x = F.silu(bn(conv(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor, drop_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits. In training mode ``drop_mask`` (N, 4*base), already scaled by 1/(1-p), replaces
        the module's own dropout draw (the training loop draws it from its own seeded generator)."""
        h = self.features(x)
        if self.training and drop_mask is not None:
            return self.fc(h * drop_mask.to(h.dtype))
        return self.fc(self.drop(h))


def count_parameters(model: nn.Module, keras: bool = True) -> int:
    """Number of parameters; ``keras=True`` also counts BatchNorm's running mean and variance.

    >>> round(count_parameters(ConvNet(48)) / 1e6, 3)
    0.212
    """
    n = sum(p.numel() for p in model.parameters())
    if keras:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                n += m.running_mean.numel() + m.running_var.numel()
    return n


class EnsembleConvNet(nn.Module):
    """K :class:`ConvNet` members evaluated together on one shared input batch.

    ``forward(x)`` returns logits of shape (K, N, classes): member k's output equals
    ``members[k](x)`` up to floating-point summation order (and dropout masks).
    The members' parameters stay theirs (``ensemble.members[k].parameters()``); their BatchNorm
    running statistics become views into the ensemble's stacked buffers, so they stay in sync.
    """

    def __init__(self, members: Sequence[ConvNet]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        m0 = members[0]
        for m in members:
            if (m.base, m.num_classes, m.in_channels) != (m0.base, m0.num_classes, m0.in_channels):
                raise ValueError("ensemble members must share base, classes and input channels")
        self.members = nn.ModuleList(members)
        self.k = len(members)
        self.base, self.num_classes, self.dropout = m0.base, m0.num_classes, m0.dropout
        # Stack the running statistics and hand the members views into the stacks.
        for li in range(len(m0.bns)):
            for stat in ("running_mean", "running_var"):
                stacked = torch.cat([getattr(m.bns[li], stat) for m in members]).clone()
                self.register_buffer(f"{stat}_{li}", stacked)
                c = stacked.numel() // self.k
                for k, m in enumerate(members):
                    setattr(m.bns[li], stat, stacked[k * c:(k + 1) * c])

    def forward(self, x: torch.Tensor, drop_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (K, N, classes); a training-mode ``drop_mask`` (N, 4*base) is shared by all members."""
        ms = self.members
        k = self.k
        h = x
        for li in range(len(ms[0].convs)):
            conv0, bn0 = ms[0].convs[li], ms[0].bns[li]
            w = torch.cat([m.convs[li].weight for m in ms])
            h = F.conv2d(h, w, None, conv0.stride, conv0.padding, 1, 1 if li == 0 else k)
            h = F.batch_norm(
                h,
                getattr(self, f"running_mean_{li}"),
                getattr(self, f"running_var_{li}"),
                torch.cat([m.bns[li].weight for m in ms]),
                torch.cat([m.bns[li].bias for m in ms]),
                self.training,
                bn0.momentum,
                bn0.eps,
            )
            h = F.silu(h)
        n = h.shape[0]
        h = h.mean(dim=(2, 3)).view(n, k, -1).transpose(0, 1)  # K, N, 4b
        if self.training and drop_mask is not None:
            h = h * drop_mask.to(h.dtype)
        else:
            h = F.dropout(h, self.dropout, self.training)
        wfc = torch.stack([m.fc.weight for m in ms])  # K, classes, 4b
        bfc = torch.stack([m.fc.bias for m in ms])  # K, classes
        return torch.baddbmm(bfc.unsqueeze(1).to(h.dtype), h, wfc.transpose(1, 2).to(h.dtype))
