"""Near-twins within a tolerance (gp_opt.twins) on hand-made records."""
import pytest

from gp_opt.twins import first_of_twins, records_twins, scores_twins


def _rec(fitness=-0.15, lr=0.1, seed=0, loss=0.30, hist=(0.9, 0.4), status="ok", steps=120):
    stages = [{"stage": "screen1", "lr": 1.0, "status": "ok", "steps": 40, "train_acc": 0.5, "train_loss": 1.2},
              {"stage": "full", "lr": lr, "status": status, "steps": steps, "train_loss": loss,
               "best_val_acc": 0.96, "val_loss_history": [[20, hist[0]], [40, hist[1]]]}]
    return {"status": "ok", "fitness": fitness, "best_lr": lr, "stages": stages, "extra": {"seed": seed}}


def test_equal_within_tolerance_is_one_optimizer():
    a = _rec()
    assert records_twins(a, _rec())                                      # bit-identical
    assert records_twins(a, _rec(fitness=-0.15001, loss=0.300002))      # float-level differences
    assert records_twins(a, _rec(hist=(0.9, 0.40003)))


@pytest.mark.parametrize("other", [
    _rec(fitness=-0.152),          # 1.3 % apart: a real difference (seed noise is several per cent)
    _rec(loss=0.31),
    _rec(hist=(0.9, 0.41)),
    _rec(lr=0.01),                 # another rate
    _rec(seed=1),                  # another seed: differences are the seed's, never twins
    _rec(steps=80, status="stopped"),
])
def test_real_differences_are_not_twins(other):
    assert not records_twins(_rec(), other)


def test_records_without_stages_are_never_twins():
    bare = {"status": "ok", "fitness": 1.0}
    assert not records_twins(bare, dict(bare))


def test_first_of_twins_keeps_the_best_of_each_behaviour_and_fills_the_slots():
    recs = [_rec(-0.10), _rec(-0.100001), _rec(-0.12), _rec(-0.1200002), _rec(-0.15), _rec(-0.2)]
    kept, twins = first_of_twins(recs, limit=3)
    assert kept == [0, 2, 4] and twins == {0: [1], 2: [3], 4: []}
    kept, _ = first_of_twins(recs, limit=2)
    assert kept == [0, 2]


def test_scores_on_shared_seeds():
    a = {3: 0.0831, 4: 0.0902, 5: 0.1011}
    assert scores_twins(a, {3: 0.0831, 4: 0.0902, 5: 0.10110004}, atol=1e-6)
    assert not scores_twins(a, {3: 0.0831, 4: 0.0902, 5: 0.1021}, atol=1e-6)
    assert not scores_twins(a, {7: 0.0831}, atol=1e-6)  # no shared seed: nothing says they are one


def test_funnel_round_twins_give_their_slot_to_the_next_distinct_entry():
    from gp_opt.twins import demote_twins

    def recs(losses, accs=(0.95, 0.96), lr=0.1, status="ok"):
        return {s: {"status": status, "best_lr": lr, "val_loss": v, "val_acc": a}
                for s, v, a in zip((3, 4), losses, accs)}

    rounds = {"#1": recs((0.10, 0.12)), "#2": recs((0.10002, 0.12001)),          # a twin of #1
              "#3": recs((0.10, 0.125)),                                          # one seed 0.005 apart: distinct
              "#4": recs((0.10, 0.12), lr=0.01),                                  # another rate: distinct
              "#5": recs((0.10, 0.12), status="failed"),                          # not ok: never a twin
              "#6": recs((0.11, 0.13))}
    order, twin_of = demote_twins(["#1", "#2", "#3", "#4", "#5", "#6"], rounds)
    assert twin_of == {"#2": "#1"}
    assert order == ["#1", "#3", "#4", "#5", "#6", "#2"]
