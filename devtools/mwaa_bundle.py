"""Build the files Amazon MWAA reads: ``python devtools/mwaa_bundle.py [--output build/mwaa]``.

Layout of the output folder (default ``build/mwaa``)::

    dags/                   sync to s3://<mwaa bucket>/dags/
      focus_delivery.py     every DAG file of dags/
      focus_pipeline/       the shared package (MWAA puts the dags folder on sys.path)
      include/sql/...       SQL files; focus_pipeline looks for them in <dags folder>/include/sql
      .airflowignore        keeps the DAG processor out of focus_pipeline/ and include/
    dags.zip                the same tree as one archive
    requirements.txt        the project's requirements.txt, checked to be in MWAA form
    plugins.zip             an empty, valid archive: the pipeline has no Airflow plugin

The package goes into the dags folder rather than plugins.zip because MWAA picks up a dags sync
without an environment update, while a new plugins.zip needs one. With one copy, the DAGs and the
package are also always deployed at the same version. No startup script is needed because the
pipeline needs no OS packages and no environment variables beyond Airflow's own configuration.
"""

from __future__ import annotations

import argparse
import ast
import logging
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_NAME = "focus_pipeline"
CONSTRAINT_URL = "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"
# Packages of the MWAA image that a requirements.txt must not name (MWAA rejects or overrides them).
FORBIDDEN_REQUIREMENTS = ("apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk")
# Dev-only packages of this repository that nothing in the bundle may import.
DEV_ONLY_PACKAGES = ("focus_emulator", "focus_generator", "focus_demo")
AIRFLOWIGNORE = f"{PACKAGE_NAME}/\ninclude/\n"
# Fixed timestamp of every archive entry, so that rebuilding unchanged files gives the same zips.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
IGNORED_NAMES = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")


class BundleError(Exception):
    """The repository cannot be turned into a valid MWAA bundle."""


@dataclass(frozen=True)
class Bundle:
    """Paths of a built bundle."""

    root: Path
    dags_folder: Path
    dags_zip: Path
    requirements: Path
    plugins_zip: Path
    dag_files: tuple[Path, ...]


def check_requirements(text: str, source: Path) -> None:
    """Raise BundleError unless ``text`` is a requirements.txt in the form MWAA expects.

    The first requirement line must be the ``--constraint`` URL of Airflow 3.3.1 for Python 3.12,
    and no line may install Airflow itself (the image provides it).
    """
    lines = [line.strip() for line in text.splitlines()]
    entries = [line for line in lines if line and not line.startswith("#")]
    if not entries:
        raise BundleError(f'{source} is empty; its first line must be: --constraint "{CONSTRAINT_URL}"')
    first = entries[0].replace("'", '"')
    if first not in (f'--constraint "{CONSTRAINT_URL}"', f"--constraint {CONSTRAINT_URL}"):
        raise BundleError(
            f"The first line of {source} is {entries[0]!r}; MWAA needs the Airflow constraints first: "
            f'--constraint "{CONSTRAINT_URL}"'
        )
    for line in entries[1:]:
        name = line.split(";")[0].split("[")[0]
        for separator in ("==", ">=", "<=", "~=", "!=", ">", "<"):
            name = name.split(separator)[0]
        if name.strip().lower().replace("_", "-") in FORBIDDEN_REQUIREMENTS:
            raise BundleError(f"{source} installs {line!r}, which the MWAA image provides; remove that line.")


def find_dev_imports(path: Path, label: str) -> list[str]:
    """Return ``<label>: <module>`` for every import of a dev-only package in the file ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        else:
            continue
        found.extend(f"{label}: {module}" for module in modules if module.split(".")[0] in DEV_ONLY_PACKAGES)
    return found


def write_zip(source: Path, target: Path) -> None:
    """Write every file under ``source`` into ``target``, sorted and with fixed timestamps."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=ZIP_DATE_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def build_bundle(repo_root: Path = REPO_ROOT, output: Path | None = None) -> Bundle:
    """Build the MWAA bundle of ``repo_root`` into ``output`` (default ``<repo_root>/build/mwaa``).

    The output folder is replaced as a whole, so files deleted from the repository disappear
    from the bundle too.
    """
    output = output or repo_root / "build" / "mwaa"
    dag_files = tuple(sorted((repo_root / "dags").glob("*.py")))
    package_dir = repo_root / "plugins" / PACKAGE_NAME
    sql_dir = repo_root / "include" / "sql"
    requirements = repo_root / "requirements.txt"

    if not dag_files:
        raise BundleError(f"No DAG file found in {repo_root / 'dags'}; add the DAG files before bundling.")
    if not (package_dir / "__init__.py").is_file():
        raise BundleError(f"Package {package_dir} not found (no __init__.py); the DAGs import it.")
    if not sql_dir.is_dir():
        raise BundleError(f"SQL folder {sql_dir} not found; the detections read their SQL from it.")
    if not requirements.is_file():
        raise BundleError(f"{requirements} not found; MWAA installs the extra packages from it.")
    check_requirements(requirements.read_text(encoding="utf-8"), requirements)
    python_files = [*dag_files, *sorted(package_dir.rglob("*.py"))]
    dev_imports = [
        hit for path in python_files for hit in find_dev_imports(path, str(path.relative_to(repo_root)))
    ]
    if dev_imports:
        raise BundleError(
            "The bundle would import dev-only packages that MWAA does not have: "
            + "; ".join(dev_imports)
            + ". Move that code out of the DAGs and focus_pipeline."
        )

    if output.exists():
        shutil.rmtree(output)
    dags_folder = output / "dags"
    dags_folder.mkdir(parents=True)
    for path in dag_files:
        shutil.copy2(path, dags_folder / path.name)
    shutil.copytree(package_dir, dags_folder / PACKAGE_NAME, ignore=IGNORED_NAMES)
    shutil.copytree(sql_dir, dags_folder / "include" / "sql", ignore=IGNORED_NAMES)
    (dags_folder / ".airflowignore").write_text(AIRFLOWIGNORE, encoding="utf-8")

    bundle = Bundle(
        root=output,
        dags_folder=dags_folder,
        dags_zip=output / "dags.zip",
        requirements=output / "requirements.txt",
        plugins_zip=output / "plugins.zip",
        dag_files=tuple(dags_folder / path.name for path in dag_files),
    )
    shutil.copy2(requirements, bundle.requirements)
    write_zip(dags_folder, bundle.dags_zip)
    with zipfile.ZipFile(bundle.plugins_zip, "w"):
        pass
    log.info("Built the MWAA bundle in %s with %d DAG files", output, len(dag_files))
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the MWAA dags folder, requirements.txt and plugins.zip."
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "build" / "mwaa",
        help="folder to write the bundle to; it is replaced (default: build/mwaa)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        build_bundle(REPO_ROOT, args.output)
    except BundleError as err:
        log.error("MWAA bundle not built: %s", err)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
