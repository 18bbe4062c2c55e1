"""Errors a user can cause. The command line prints them as one line and exits with code 2."""


class GpOptError(ValueError):
    """Base class of every error caused by bad input (a file, a field, an op, a value)."""


class GrammarError(GpOptError):
    """A grammar file is invalid: names the file, the primitive and what is wrong."""


class GenomeError(GpOptError):
    """A genome is invalid: names the node or edge and what is wrong."""


class CheckpointError(GpOptError):
    """A run directory or checkpoint cannot be used (corrupt, foreign, or from another version)."""


class DataError(GpOptError):
    """A dataset is missing or malformed."""


class OptimizerError(GpOptError):
    """An optimizer was built with arguments it cannot honour (lr, weight decay, flags, parameters)."""
