"""Test configuration shared by every test: marker enforcement and AWS isolation."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every test runs with fake credentials and no profile, so no client can sign a request for a
# real account even if an endpoint were wrong.
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

# Airflow reads its configuration when first imported: point it at a throwaway home, the
# project's DAGs, and no example DAGs, before any test imports it.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="focus-airflow-home-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.pop("AIRFLOW_VAR_FOCUS_PIPELINE_CONFIG", None)

_KIND_MARKERS = {"unit", "integration", "validator"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Reject tests that carry neither the unit nor the integration marker."""
    unmarked = [item.nodeid for item in items if not _KIND_MARKERS & {m.name for m in item.iter_markers()}]
    if unmarked:
        raise pytest.UsageError(
            "Tests without a unit or integration marker: "
            + ", ".join(unmarked[:10])
            + ". Add 'pytestmark = pytest.mark.unit' (or integration) to the module."
        )


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Create the Airflow metadata database once per session (SQLite in the throwaway home)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    return home
