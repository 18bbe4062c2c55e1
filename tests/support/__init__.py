"""Helpers shared by the test files (imported as ``support.<module>``; no test file imports another).

- :mod:`support.runs`: a run directory's candidate log and hall of fame, read the way the
  resume and equality tests compare them;
- :mod:`support.optimizers`: the numpy SPEC reference, the quadratic test problem, hand-built
  genomes, and :data:`support.optimizers.CASES`, the one registry of optimizer cases;
- :mod:`support.executors`: the toy search's settings, logging evaluators and batched map, the
  transfer tables less their wall times, and a local Ray executor fixture;
- :mod:`support.files`: pdflatex and PNG checks of written files;
- :mod:`support.export_pins`: the catalog's exported torch and optax sources and their pinned
  hashes (``python -m tests.support.export_pins --write`` regenerates them).
"""
