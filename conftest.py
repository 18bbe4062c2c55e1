"""pytest (repository root): leave out the doctests of a module whose optional extra is missing."""
import importlib.util

# gp_opt.optim.jax_runtime imports jax and optax (the extra gp_opt[jax]); every other module
# imports without them
collect_ignore = ([] if importlib.util.find_spec("jax") and importlib.util.find_spec("optax")
                  else ["gp_opt/optim/jax_runtime.py"])
