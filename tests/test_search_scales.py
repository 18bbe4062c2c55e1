"""One fitness scale per ranking: the initial population's own fitness (``evaluate_init``, the
paper's base-32 ConvNet before base 48) is ranked apart from the children's, and a re-evaluation
uses the fitness of the candidate's first evaluation."""
import math

from gp_opt.fitness import FitnessRecord
from gp_opt.search import run_search
from gp_opt.search.algorithms import tournament_winner
from gp_opt.search.candidate import INIT_SCALE, make_individual, rank
from gp_opt.search.noise import Evaluations
from gp_opt.search.toy import ToyEvaluate, make_toy_toolbox, toy_key

from support.runs import log_lines

#: the initial population's scale here reads far better than the children's (as a smaller net's
#: accuracy could read worse): a ranking that mixed the two would prefer every initial candidate
OFFSET = 1000.0


class _Scaled:
    """A toy fitness shifted by ``offset``, logging the key of each candidate it scores."""

    def __init__(self, offset: float, calls: list):
        self.toy, self.offset, self.calls = ToyEvaluate(noise=2.0), offset, calls

    def __call__(self, payload, seed=None):
        self.calls.append(toy_key(payload))
        rec = self.toy(payload, seed=seed)
        return FitnessRecord(fitness=rec.fitness + self.offset, status=rec.status, stages=rec.stages,
                             extra=rec.extra) if rec.status == "ok" else rec


def _two_scale_toolbox(init_calls: list, step_calls: list):
    tb = make_toy_toolbox(evaluate=_Scaled(0.0, step_calls))
    tb.register("evaluate_init", _Scaled(OFFSET, init_calls))
    return tb


def _cand(key: str, fitness: float, init: bool):
    return make_individual(None, key, FitnessRecord(fitness=fitness, extra={"scale": INIT_SCALE} if init else {}))


def test_rank_puts_every_children_score_above_every_initial_one():
    pop = [_cand("a", 5.0, True), _cand("b", -3.0, False), _cand("c", 9.0, True), _cand("d", -1.0, False)]
    assert [c.key for c in sorted(pop, key=rank, reverse=True)] == ["d", "b", "c", "a"]
    assert tournament_winner(pop, [0, 1, 2]) == 1  # the children's scale wins a mixed tournament
    assert tournament_winner(pop, [0, 2]) == 2      # within one scale, the best score
    assert tournament_winner(pop, [0, 1, 2], ("fitness",)) == 1  # NSGA-II too: among the children's
    assert tournament_winner(pop, [0, 2], ("fitness",)) == 2


def test_noise_is_pooled_within_a_scale():
    ev = Evaluations()
    for key, value, init in (("a", 1.0, True), ("a", 9.0, True), ("b", 2.0, False), ("b", 4.0, False)):
        ev.add(key, FitnessRecord(fitness=value, extra={"scale": INIT_SCALE} if init else {}))
    assert math.isclose(ev.pooled_sd(INIT_SCALE), math.sqrt(32.0)) and math.isclose(ev.pooled_sd(), math.sqrt(2.0))
    assert math.isclose(ev.derived("b").fitness, 3.0 - 1.0)  # the children's noise, not the init's
    assert math.isclose(ev.derived("a").fitness, 5.0 - 4.0)


def _check_scales(tmp_path, algorithm: str, **kw):
    init_calls, step_calls = [], []
    res = run_search("toy", tmp_path / "run", 2, 3, 2, seed=3, init_factor=3, algorithm=algorithm, verbose=False,
                     toolbox=_two_scale_toolbox(init_calls, step_calls),
                     noise={"race_seeds": 1, "rescore": 3, "max_evaluations": 3}, **kw)
    lines = log_lines(tmp_path / "run", missing_ok=True)
    scale_of = {}
    for line in lines:
        if line["phase"] != "reeval" and not line["cache_hit"]:
            scale_of.setdefault(line["key"], line["record"]["extra"].get("scale"))
    assert {scale_of[x["key"]] for x in lines if x["phase"] == "init"} == {INIT_SCALE}
    assert INIT_SCALE not in {scale_of[x["key"]] for x in lines if x["phase"] not in ("init", "reeval")
                              if not x["cache_hit"]}
    again = [x for x in lines if x["phase"] == "reeval"]
    assert again
    for x in again:  # re-scored by the fitness of its first evaluation, and the record says which
        assert x["record"]["extra"].get("scale") == scale_of[x["key"]]
        assert x["key"] in (init_calls if scale_of[x["key"]] == INIT_SCALE else step_calls)
    assert any(scale_of[x["key"]] == INIT_SCALE for x in again)  # the initial population was raced
    assert res.halloffame.items and all(c.record.extra.get("scale") != INIT_SCALE for c in res.halloffame.items)
    assert all(c.record.fitness < OFFSET / 2 for c in res.halloffame.items)
    return res, lines


def test_particle_search_keeps_the_initial_scale_out_of_the_hall_of_fame(tmp_path):
    _check_scales(tmp_path, "particle")


def test_regularized_evolution_ranks_the_initial_population_apart(tmp_path):
    res, lines = _check_scales(tmp_path, "regularized", population_size=4, cycles=6, sample_size=4)
    # a tournament over the whole population picks a child as soon as there is one: every parent
    # after the first cycle is a child, though every initial member reads OFFSET better
    assert all(c.record.extra.get("scale") != INIT_SCALE for c in res.population[-2:])


def test_the_report_ranks_the_initial_scale_after_the_children(tmp_path):
    from gp_opt.report.run import load_run, unique_ok

    _check_scales(tmp_path, "particle")
    ranked = unique_ok(load_run(tmp_path / "run"))
    init = [c.record["extra"].get("scale") == INIT_SCALE for c in ranked]
    assert any(init) and not all(init)
    assert init == sorted(init)  # every children's-scale candidate first, though each init one reads better


def test_logbook_report_curve_and_pareto_archive_keep_one_scale(tmp_path):
    from gp_opt.report.run import load_run, step_stats
    from gp_opt.search.pareto import ParetoArchive

    res, _ = _check_scales(tmp_path, "particle")
    rows = list(res.logbook)
    assert rows[0]["max"] > OFFSET / 2                     # generation 0: the initial scale alone
    assert all(r["max"] < OFFSET / 2 for r in rows[1:])    # then the children's, never averaged with it
    curve = step_stats(load_run(tmp_path / "run"))
    assert math.isnan(curve[0].cum_best) and curve[0].best > OFFSET / 2
    assert all(s.cum_best < OFFSET / 2 for s in curve[1:])
    archive = ParetoArchive(tmp_path, ("fitness",))
    assert archive.add([_cand("a", 5.0, True)]) == 0 and archive.add([_cand("b", 1.0, False)]) == 1
    archive.close()
