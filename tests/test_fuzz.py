"""The fuzz harness (scripts/fuzz.py), a short run: mutated archives with valid CRCs decode to the
right bytes or raise an MdlzipError, under an address-space limit and a time bound."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hypothesis")
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz.py"


def test_mutated_archives_are_right_bytes_or_an_mdlzip_error():
    proc = subprocess.run([sys.executable, SCRIPT, "--examples", "400", "--seconds", "40", "--memlimit", "256MiB"],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["examples"] >= 100 and not result["failed"]
    assert set(result["outcomes"]) <= {"decoded", "FormatError", "TruncatedError", "ChecksumError",
                                       "UnsupportedVersionError", "MemoryLimitError"}
