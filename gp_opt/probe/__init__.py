"""How well a fitness tells optimizers apart (``gp-opt probe-fitness``): a reference panel
evaluated on several seeds (:mod:`gp_opt.probe.run`, :mod:`gp_opt.probe.panel`) and the
statistics of its score table (:mod:`gp_opt.probe.stats`)."""
from gp_opt.probe.stats import Discriminability, discriminability, kendall_tau, p_pair, paired_against

__all__ = ["Discriminability", "discriminability", "kendall_tau", "p_pair", "paired_against"]
