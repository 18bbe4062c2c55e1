"""Output files as the tests check them: a LaTeX file compiled by pdflatex, a PNG's size."""
from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on PATH")


def compile_tex(path):
    """pdflatex ``path`` in its folder; returns the log text (asserts success)."""
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", path.name],
                          cwd=path.parent, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert path.with_suffix(".pdf").read_bytes()[:4] == b"%PDF"
    return path.with_suffix(".log").read_text(errors="replace")


def png_size(path):
    """(width, height) from a PNG's IHDR chunk; fails on anything that is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])
