"""Run the FinOps Foundation's focus-validator on a generated clean FOCUS 1.2 period.

Skipped unless RUN_FOCUS_VALIDATOR=1: the first run builds a virtualenv and downloads packages.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.unit,
    pytest.mark.validator,
    pytest.mark.skipif(
        os.environ.get("RUN_FOCUS_VALIDATOR") != "1", reason="set RUN_FOCUS_VALIDATOR=1 to run"
    ),
]

REPO = Path(__file__).resolve().parents[2]
# Failures explained by the data, not by the generator:
# InvoiceId-C-004-C fails on every row of a closed month because the validator cannot see which
# charges belong to an issued invoice, and AWS fills InvoiceId once the month is invoiced.
EXPLAINED_FAILURES = {"InvoiceId-C-004-C"}


def test_clean_period_passes_focus_validator():
    result = subprocess.run(
        [str(REPO / "devtools" / "focus_validator" / "run.sh"), "2026-04"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert "Total:" in output, output[-3000:]
    failures = set(re.findall(r"^- (\S+): violations=", output, flags=re.MULTILINE))
    assert failures <= EXPLAINED_FAILURES, sorted(failures - EXPLAINED_FAILURES)
