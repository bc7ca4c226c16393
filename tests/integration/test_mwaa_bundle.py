"""The MWAA bundle imports cleanly in a fresh Python 3.12 environment built like the MWAA image.

The environment gets Airflow 3.3.1 with the packages of the MWAA image that the DAGs use
(the Amazon provider and PyAthena) plus the bundle's requirements.txt, all under the Airflow
3.3.1 constraints for Python 3.12. The constraints come from a local copy at
``<repo>/../shared/mwaa/constraints-3.3.1-python3.12.txt`` (the test skips without it) instead of
the URL on the requirements' first line. The first run downloads from PyPI and takes minutes; the
environment is cached under ``build/mwaa-venv/<hash>`` and reused while its inputs are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from devtools.mwaa_bundle import Bundle, build_bundle

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO_ROOT.parent / "shared" / "mwaa" / "constraints-3.3.1-python3.12.txt"
VENV_CACHE = REPO_ROOT / "build" / "mwaa-venv"
# Packages the MWAA 3.3.1 image preinstalls that the DAGs import; versions come from the constraints.
MWAA_PREINSTALLED = ["apache-airflow==3.3.1", "apache-airflow-providers-amazon", "pyathena"]
INSTALL_TIMEOUT_SECONDS = 1800

# Parses the dags folder the way the DAG processor does and prints the result as JSON.
DAGBAG_SCRIPT = """
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
import airflow
import focus_pipeline
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
print(json.dumps({
    "airflow_version": airflow.__version__,
    "package_file": focus_pipeline.__file__,
    "dag_ids": sorted(bag.dag_ids),
    "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "files": sorted(str(f) for f in getattr(bag, "file_last_changed", {})),
}))
"""


def find_python312() -> str | None:
    """Return a Python 3.12 interpreter: pyenv's 3.12.1, python3.12 on PATH, or this one if 3.12."""
    candidates = [Path("/root/.pyenv/versions/3.12.1/bin/python"), shutil.which("python3.12")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    if sys.version_info[:2] == (3, 12):
        return sys.executable
    return None


def install_lines(bundle: Bundle) -> list[str]:
    """Return the bundle's requirements without the constraint URL, plus the MWAA image packages."""
    lines = []
    for line in bundle.requirements.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not stripped.startswith("--constraint"):
            lines.append(stripped)
    return [*MWAA_PREINSTALLED, *lines]


def cached_venv(python: str, requirements: list[str]) -> Path:
    """Create, or reuse, a virtualenv with ``requirements`` installed under the local constraints."""
    key_source = "\n".join([python, *requirements, CONSTRAINTS.read_text(encoding="utf-8")])
    venv = VENV_CACHE / hashlib.sha256(key_source.encode()).hexdigest()[:16]
    marker = venv / ".installed"
    if marker.is_file():
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    requirements_file = venv / "requirements-under-test.txt"
    requirements_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    command = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--constraint",
        str(CONSTRAINTS),
        "--requirement",
        str(requirements_file),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS)
    assert result.returncode == 0, f"pip install failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    marker.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    return venv


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    if not any((REPO_ROOT / "dags").glob("*.py")):
        pytest.skip("dags/ has no DAG file yet, so there is no bundle to import")
    return build_bundle(REPO_ROOT, tmp_path_factory.mktemp("mwaa") / "mwaa")


def test_bundle_dags_import_in_mwaa_like_venv(bundle: Bundle, tmp_path: Path) -> None:
    if not CONSTRAINTS.is_file():
        pytest.skip(f"MWAA constraints not found at {CONSTRAINTS}")
    python = find_python312()
    if python is None:
        pytest.skip("no Python 3.12 interpreter found (MWAA 3.3.1 runs Python 3.12)")

    venv = cached_venv(python, install_lines(bundle))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        # MWAA puts the dags folder on sys.path; nothing of the repository is on it.
        "PYTHONPATH": str(bundle.dags_folder),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(bundle.dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", DAGBAG_SCRIPT, str(bundle.dags_folder)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, f"DagBag script failed:\n{result.stderr[-6000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert report["airflow_version"] == "3.3.1"
    assert Path(report["package_file"]).is_relative_to(bundle.dags_folder)
    assert report["import_errors"] == {}
    expected_ids = {path.stem for path in bundle.dag_files}
    assert expected_ids <= set(report["dag_ids"]), f"DAG ids {report['dag_ids']} lack some of {expected_ids}"
    parsed_files = {Path(name).name for name in report["files"]}
    assert not any(name.startswith("focus_pipeline") for name in parsed_files)
