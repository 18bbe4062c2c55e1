"""docs/custom-experiment.md runs as written (issue 21: a walkthrough a test runs)."""
import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "custom-experiment.md"


def test_custom_experiment_walkthrough_runs():
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 25 and result.failed == 0
