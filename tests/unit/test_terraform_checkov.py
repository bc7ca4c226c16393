"""checkov over infra/terraform reports no failed check (skips carry their reason inline).

Runs devtools/run_checkov.sh, which installs checkov into build/checkov-venv on first use (PyPI,
about a minute), only when RUN_CHECKOV=1. It is an integration test despite its folder because it
needs the network once and a separate virtualenv.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.environ.get("RUN_CHECKOV") != "1", reason="set RUN_CHECKOV=1 to run checkov"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_checkov_reports_no_failed_checks() -> None:
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "devtools" / "run_checkov.sh")],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        timeout=1200,
    )
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", result.stdout)
    assert summary is not None, (
        f"no checkov summary in the output:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    passed, failed, _skipped = (int(value) for value in summary.groups())
    assert failed == 0, f"checkov failed checks:\n{result.stdout[-6000:]}"
    assert passed > 100
    assert result.returncode == 0
