"""EvolvedOptimizer on CUDA (skipped without a GPU)."""
from __future__ import annotations

import pytest
import torch

from gp_opt import catalog
from gp_opt.optim import EvolvedOptimizer, functional_step

from support.optimizers import case, hand_genome, problem

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _run(genome, device, dtype=torch.float32, steps=20, **kw):
    w0, _, loss = problem(5)
    ps = [torch.nn.Parameter(torch.tensor(w, dtype=dtype, device=device)) for w in w0]
    opt = EvolvedOptimizer([{"params": ps[:1], "lr": 0.02}, {"params": ps[1:]}], genome, lr=0.05,
                           total_steps=30, warmup_steps=3, **kw)
    for _ in range(steps):
        opt.zero_grad()
        loss([p.double().cpu() for p in ps]).backward()
        opt.step()
    return [p.detach().double().cpu() for p in ps], opt




@pytest.mark.parametrize("name", ["Opt6", "Opt10", "A5", "LR2", "QHM", "random3", "flipped"])
def test_cuda_matches_cpu(name):
    genome = case(name)
    a, _ = _run(genome, "cpu", torch.float64)
    b, _ = _run(genome, "cuda", torch.float64)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)


def test_cuda_stateful_and_state_on_device():
    genome = hand_genome("stateful_momentum")
    a, _ = _run(genome, "cpu", torch.float64)
    b, opt = _run(genome, "cuda", torch.float64)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)
    st = next(iter(opt.state.values()))
    assert all(v.device.type == "cuda" for v in st.values() if isinstance(v, torch.Tensor))


def test_cuda_bfloat16_params():
    genome = catalog.get("Adam")
    w = torch.nn.Parameter(torch.ones(1000, device="cuda", dtype=torch.bfloat16))
    opt = EvolvedOptimizer([w], genome, lr=0.1, total_steps=10)
    for _ in range(3):
        w.grad = torch.ones_like(w)
        opt.step()
    assert w.dtype == torch.bfloat16 and opt.state[w]["v"].dtype == torch.float32
    assert float(w.float().mean()) < 1.0


def test_cuda_compile_matches_eager():
    genome = catalog.get("Opt6")
    a, _ = _run(genome, "cuda", torch.float32)
    b, _ = _run(genome, "cuda", torch.float32, compile=True)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


def test_cuda_functional_ensemble_step():
    genome = catalog.get("A5")
    fs = functional_step(genome)
    w = torch.randn(4, 10, 3, device="cuda")
    state = fs.init_state(w)
    delta = fs(2 * w, w, state, t=0, lr=torch.tensor([0.1, 0.2, 0.3, 0.4], device="cuda"), total_steps=10)
    assert delta.shape == w.shape and delta.device.type == "cuda"


@pytest.mark.parametrize("name", ["Opt6", "Opt10", "A5"])
def test_cuda_tensor_lr_weight_decay_maximize_complex_match_cpu(name):
    """The torch contract on CUDA: a (1, 1) CUDA tensor lr, weight decay, maximize, a complex
    parameter; the same numbers as the CPU run with a float lr."""
    genome = case(name)
    gen = torch.Generator().manual_seed(0)
    z0 = torch.randn(5, 3, generator=gen, dtype=torch.complex128)
    x0 = torch.randn(7, generator=gen, dtype=torch.float64)
    grads = [(torch.randn(5, 3, generator=gen, dtype=torch.complex128),
              torch.randn(7, generator=gen, dtype=torch.float64)) for _ in range(6)]

    def run(device, lr):
        z = torch.nn.Parameter(z0.to(device))
        x = torch.nn.Parameter(x0.to(device))
        opt = EvolvedOptimizer([{"params": [z], "maximize": True}, {"params": [x], "weight_decay": 0.2}],
                               genome, lr=lr, total_steps=10, warmup_steps=2)
        for gz, gx in grads:
            z.grad, x.grad = gz.to(device), gx.to(device)
            opt.step()
        return [z.detach().cpu(), x.detach().cpu()]

    a = run("cpu", 0.05)
    b = run("cuda", torch.full((1, 1), 0.05, dtype=torch.float64, device="cuda"))
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)
