"""gp_opt: discover deep-learning optimizers by evolution.

grammar -> genome -> (symbolic | torch) -> fitness -> search
"""
__version__ = "0.1.0"
