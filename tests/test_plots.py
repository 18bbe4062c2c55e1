"""gp_opt.plots: the curves are right, every figure is a valid image of the expected size; gp-opt plot."""

import numpy as np
import pytest

from gp_opt import catalog
from gp_opt import plots as P
from gp_opt.cli import main
from gp_opt.genome import OptimizerGenome
from gp_opt.optim.schedules import base_lr_table, schedule_factor_table

from support.files import png_size

W, H = int(P.FIGSIZE[0] * P.DPI), int(P.FIGSIZE[1] * P.DPI)


def test_schedule_curves_match_the_factor_table():
    c = P.schedule_curves(catalog.get("LR2"), total_steps=60, warmup=0.1, hold=0.2)
    assert np.allclose(c.factor, schedule_factor_table("LR2", 60))
    assert np.allclose(c.base, base_lr_table(60, 6, 12)) and np.allclose(c.product, c.base * c.factor)
    adam = P.schedule_curves(catalog.get("Adam"), total_steps=60)
    assert not adam.learned and np.all(adam.factor == 1)


def test_decay_curves_stay_in_unit_interval():
    curves = P.decay_curves(catalog.get("Opt4"), total_steps=100)
    assert [sym for sym, *_ in curves] == ["d_1", "d_2", "d_3"]
    for _, _, x, y in curves:
        assert x.shape == y.shape == (100,) and np.all((y >= -1e-12) & (y <= 1 + 1e-12))


def test_update_curves_of_known_optimizers():
    g = np.linspace(-2, 2, 41)
    sgd = P.update_curves(catalog.get("SGD"), g)
    assert [f for f, _ in sgd] == list(P.UPDATE_STATES)
    assert all(np.allclose(y, g) for _, y in sgd)
    # Adam at the steady state of a constant gradient: v_hat / (sqrt(s_hat) + eps) = sign(g)
    adam = P.update_curves(catalog.get("Adam"), g)
    nz = g != 0
    assert all(np.allclose(y[nz], np.sign(g[nz]), atol=1e-5) for _, y in adam)


def test_pareto_front():
    mask = P.pareto_front([5, 3, 3, 8, 1], [0.9, 0.8, 0.7, 0.95, 0.1])
    assert mask.tolist() == [True, True, False, True, True]


def test_every_figure_is_a_png_of_the_fixed_size(tmp_path):
    g = catalog.get("Opt4")
    x = np.linspace(-3, 3, 61)
    figs = {
        "progress": P.progress_figure([0, 1, 2], [1, 2, 3], [0, 1, 2], [-1, 0, 1], [0.5, 1.5, 2.5], [1, 2, 3]),
        "rates": P.rates_figure([0, 1], {"a": [0.1, 0.2], "b": [0.5, np.nan]}),
        "pareto": P.pareto_figure([1, 2, 3], [0.1, 0.3, 0.2], ["a", "b", "c"]),
        "schedule": P.schedule_figure(P.schedule_curves(g), [P.schedule_curves(catalog.get("Adam"))]),
        "decays": P.decays_figure("Opt4", P.decay_curves(g)),
        "nodecays": P.decays_figure("SGD", []),
        "update": P.update_figure(x, {"Opt4": P.update_curves(g, x), "SGD": P.update_curves(catalog.get("SGD"), x)}),
    }
    for name, fig in figs.items():
        paths = P.save(fig, tmp_path / name, ("png", "svg", "pdf") if name == "schedule" else ("png",))
        assert png_size(paths[0]) == (W, H), name
    assert (tmp_path / "schedule.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "schedule.pdf").read_bytes()[:4] == b"%PDF"
    gpath = P.save(P.graph_figure(g), tmp_path / "graph")[0]
    assert png_size(gpath)[0] == int(P.FIGSIZE[0] * 1.5 * P.DPI)


def test_graph_greys_inactive_nodes():
    genome = OptimizerGenome.from_json("""{"schema": 1, "grammar": "default", "momentum": "none", "sign": 1,
      "nodes": {"h0": {"op": "exp", "inputs": ["g3"]}, "h1": {"op": "identity", "inputs": ["g"]},
                "out": {"op": "mul", "inputs": ["h1", {"from": "v_hat", "decay": {"nodes":
                        {"h0": {"op": "identity", "inputs": ["a4"]}, "out": {"op": "erfc", "inputs": ["h0"]}}}}]}}}""")
    fig = P.graph_figure(genome, "test")
    texts = {t.get_text(): t for t in fig.axes[0].texts}
    assert "h0: exp" in texts and "h1: identity" in texts and "out: mul" in texts
    assert texts["h0: exp"].get_color() != "black" and texts["out: mul"].get_color() == "black"
    # the decay function in display notation (mathtext), not Python syntax (issue 21 item 8)
    assert any(t.startswith("× $") and "erfc" in t and "a_{4}" in t for t in texts), sorted(texts)
    import matplotlib.pyplot as plt
    P.plt.close(fig)


def test_plot_cli(tmp_path, capsys):
    out = tmp_path / "s.png"
    assert main(["plot", "Opt6", "--schedule", "--compare", "Adam,SGD", "-o", str(out)]) == 0
    assert png_size(out) == (W, H) and capsys.readouterr().out.strip() == str(out)
    assert main(["plot", "Opt10", "--graph", "-o", str(tmp_path / "g.svg")]) == 0
    assert (tmp_path / "g.svg").exists()


@pytest.mark.parametrize("argv, message", [
    (["plot", "Opt66", "--graph"], "unknown catalog entry 'Opt66'"),
    (["plot", "Opt6", "--update", "--compare", "Adamm"], "unknown catalog entry 'Adamm'"),
    (["plot", "Opt6", "--decays", "-o", "{tmp}/fig.jpg"], "unknown figure format 'jpg'"),
    (["plot", "Opt6", "--decays", "-o", "{tmp}/missing/fig.png"], "does not exist"),
])
def test_plot_cli_bad_input(argv, message, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "x.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_pareto_figure_keeps_the_front_readable_past_diverged_outliers():
    rng = np.random.default_rng(0)
    c = rng.integers(2, 40, 200).astype(float)
    f = -0.1 - 0.1 * rng.random(200)
    f[:5] = -30.0  # a few candidates that barely trained
    fig = P.pareto_figure(c, f, [f"c{i}" for i in range(200)])
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert -1.0 < low < np.quantile(f, 0.25) and high > f.max()  # the front and the better 3/4 shown
    n = int((f < low).sum())
    assert n >= 5 and any(f"{n} candidates below the axis" in t.get_text() for t in ax.texts)
    P.plt.close(fig)
    # nothing far below: the axis is matplotlib's own, no note
    fig = P.pareto_figure([1, 2, 3], [0.1, 0.3, 0.2], ["a", "b", "c"])
    assert not any("below the axis" in t.get_text() for t in fig.axes[0].texts)
    P.plt.close(fig)


def test_pareto_figure_of_counts_has_whole_ticks():
    fig = P.pareto_figure([0, 1, 1, 2], [-0.17, -0.15, -0.16, -0.16], ["a", "b", "c", "d"],
                          xlabel="state buffers per parameter")
    ticks = [t for t in fig.axes[0].get_xticks() if fig.axes[0].get_xlim()[0] <= t <= fig.axes[0].get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    P.plt.close(fig)
