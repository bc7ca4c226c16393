"""The MWAA requirements file and the lock agree with what MWAA 3.3.1 runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
MWAA_REFERENCE = REPO.parent / "shared" / "mwaa"
CONSTRAINT_LINE = (
    '--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"'
)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """Package name (normalised) to pinned version, from a requirements-style file."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            found[normalise(name.split("[", 1)[0])] = version.split(";", 1)[0].strip()
    return found


def requirement_names(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(normalise(re.split(r"[=<>\[;! ]", line, maxsplit=1)[0]))
    return names


def test_requirements_first_line_is_constraint():
    assert (REPO / "requirements.txt").read_text().splitlines()[0] == CONSTRAINT_LINE


def test_requirements_exclude_airflow_itself():
    names = requirement_names(REPO / "requirements.txt")
    assert "apache-airflow" not in names
    assert "apache-airflow-core" not in names


def test_lock_pins_airflow_and_provider():
    lock = pins(REPO / "requirements-lock.txt")
    assert lock["apache-airflow"] == "3.3.1"
    assert lock["apache-airflow-providers-amazon"] == "9.34.0"
    assert lock["great-expectations"] == "1.24.1"


def test_moto_pinned_exactly():
    assert "moto[server]==5.2.5" in (REPO / "requirements-dev.in").read_text().splitlines()
    assert pins(REPO / "requirements-lock.txt")["moto"] == "5.2.5"


@pytest.mark.skipif(not MWAA_REFERENCE.is_dir(), reason="MWAA reference files are not beside the repository")
def test_lock_matches_mwaa_constraints():
    constraints = pins(MWAA_REFERENCE / "constraints-3.3.1-python3.12.txt")
    lock = pins(REPO / "requirements-lock.txt")
    differing = {
        name: (lock[name], constraints[name])
        for name in lock
        if name in constraints and lock[name] != constraints[name]
    }
    assert differing == {}


@pytest.mark.skipif(not MWAA_REFERENCE.is_dir(), reason="MWAA reference files are not beside the repository")
def test_requirements_list_only_missing_packages():
    installed = set(pins(MWAA_REFERENCE / "mwaa-3.3.1-image-installed.txt"))
    listed = requirement_names(REPO / "requirements.txt")
    assert [name for name in listed if name in installed] == []
    assert {"great-expectations", "pandas", "pyarrow"} <= set(listed)
