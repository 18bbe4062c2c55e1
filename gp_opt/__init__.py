"""gp_opt: discover deep-learning optimizers by evolution.

grammar -> genome -> (symbolic | torch) -> fitness -> search
"""
__version__ = "0.1.0"

# Genomes display themselves in notebooks (LaTeX, a PNG of the graph) once this has run; it
# imports nothing heavy (gp_opt.display loads sympy printing and matplotlib on first use).
from gp_opt import display as _display  # noqa: E402,F401
