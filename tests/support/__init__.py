"""Helpers shared by the test files (imported as ``support.<module>``; no test file imports another).

- :mod:`support.runs`: a run directory's candidate log and hall of fame, read the way the
  resume and equality tests compare them.
- :mod:`support.export_pins`: the catalog's exported torch and optax sources and their pinned
  hashes (``python -m tests.support.export_pins --write`` regenerates them).
"""
