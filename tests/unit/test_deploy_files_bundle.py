"""devtools/mwaa_bundle.py on a small repository tree: layout, requirements checks, dev imports."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from devtools.mwaa_bundle import CONSTRAINT_URL, BundleError, build_bundle, check_requirements

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = f'--constraint "{CONSTRAINT_URL}"\ngreat-expectations==1.24.1\npandas\n'


def make_repo(root: Path, dag_source: str = "from focus_pipeline import config\n") -> Path:
    (root / "dags").mkdir(parents=True)
    (root / "dags" / "focus_example.py").write_text(dag_source, encoding="utf-8")
    package = root / "plugins" / "focus_pipeline"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "config.py").write_text("NAME = 'x'\n", encoding="utf-8")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "config.cpython-312.pyc").write_bytes(b"\0")
    (root / "include" / "sql" / "detections").mkdir(parents=True)
    (root / "include" / "sql" / "detections" / "new_region.sql").write_text("SELECT 1\n", encoding="utf-8")
    (root / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
    return root


def test_bundle_layout(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    bundle = build_bundle(repo, tmp_path / "out")

    dags = bundle.dags_folder
    assert (dags / "focus_example.py").is_file()
    assert (dags / "focus_pipeline" / "config.py").is_file()
    assert not (dags / "focus_pipeline" / "__pycache__").exists()
    assert (dags / "include" / "sql" / "detections" / "new_region.sql").is_file()
    assert (dags / ".airflowignore").read_text(encoding="utf-8").split() == ["focus_pipeline/", "include/"]
    assert bundle.requirements.read_text(encoding="utf-8") == REQUIREMENTS
    assert bundle.dag_files == (dags / "focus_example.py",)


def test_bundle_zips(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    bundle = build_bundle(repo, tmp_path / "out")

    with zipfile.ZipFile(bundle.plugins_zip) as plugins:
        assert plugins.testzip() is None
        assert plugins.namelist() == []
    with zipfile.ZipFile(bundle.dags_zip) as dags:
        names = dags.namelist()
    expected = sorted(
        p.relative_to(bundle.dags_folder).as_posix() for p in bundle.dags_folder.rglob("*") if p.is_file()
    )
    assert sorted(names) == expected
    assert "focus_pipeline/config.py" in names


def test_bundle_zips_reproducible(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = build_bundle(repo, tmp_path / "one").dags_zip.read_bytes()
    second = build_bundle(repo, tmp_path / "two").dags_zip.read_bytes()
    assert first == second


def test_bundle_replaces_stale_output(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    out = tmp_path / "out"
    (out / "dags").mkdir(parents=True)
    (out / "dags" / "deleted_dag.py").write_text("", encoding="utf-8")
    build_bundle(repo, out)
    assert not (out / "dags" / "deleted_dag.py").exists()


def test_bundle_rejects_dev_imports(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", dag_source="from focus_emulator.server import Emulator\n")
    with pytest.raises(BundleError, match="focus_emulator"):
        build_bundle(repo, tmp_path / "out")


def test_bundle_requires_dag_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "dags" / "focus_example.py").unlink()
    with pytest.raises(BundleError, match="No DAG file"):
        build_bundle(repo, tmp_path / "out")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("pandas\n", "constraints first"),
        ('--constraint "https://example.invalid/constraints.txt"\npandas\n', "constraints first"),
        (f'--constraint "{CONSTRAINT_URL}"\napache-airflow==3.3.1\n', "MWAA image provides"),
        (f'--constraint "{CONSTRAINT_URL}"\napache_airflow_core>=3\n', "MWAA image provides"),
    ],
)
def test_requirements_rejected(text: str, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        check_requirements(text, Path("requirements.txt"))


def test_project_requirements_in_mwaa_form() -> None:
    path = REPO_ROOT / "requirements.txt"
    check_requirements(path.read_text(encoding="utf-8"), path)
