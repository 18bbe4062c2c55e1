"""``gp_opt.holdout`` is :mod:`gp_opt.eliminate.holdout` (the hold-out stage joined the funnel's
package); its public names stay importable from here."""
from gp_opt.eliminate.holdout import (HOLDOUT_RECORDS, HOLDOUT_SUMMARY, HOLDOUT_TABLE, format_holdout, holdout,
                                      holdout_seeds)

__all__ = ["holdout", "holdout_seeds", "format_holdout", "HOLDOUT_RECORDS", "HOLDOUT_SUMMARY", "HOLDOUT_TABLE"]
