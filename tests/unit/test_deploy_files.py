"""Local Airflow files: docker-compose.yaml, Dockerfile, packages.txt, airflow_settings.yaml and
the astro project file parse, name only paths and commands that exist, run Airflow 3.3.1, and
point AWS only at the emulator service."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from focus_pipeline.config import PipelineConfig

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
# Host names a URL in the local files may name: compose services and the loopback interface.
LOCAL_HOSTS = {"emulator", "airflow-apiserver", "postgres", "localhost", "127.0.0.1"}
# Module and flags of every emulator or generator command the compose file runs.
MODULE_FLAGS = {
    "focus_emulator": ["--host", "--port"],
    "focus_emulator.provision": ["--endpoint-url", "--allow-host"],
    "focus_generator": ["--s3-endpoint", "--bucket", "--allow-host"],
}


def load_yaml(name: str) -> Any:
    return yaml.safe_load((REPO_ROOT / name).read_text(encoding="utf-8"))


COMPOSE = load_yaml("docker-compose.yaml")
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def python_module_commands() -> list[list[str]]:
    """Return the argument lists of every ``python -m`` command in the compose services."""
    commands = []
    for service in SERVICES.values():
        for part in re.split(r"&&|;", command_text(service)):
            words = shlex.split(part)
            if "-m" in words and words[0] in ("python", "python3", "bash"):
                commands.append(words[words.index("-m") + 1 :])
    return commands


# --- docker-compose.yaml ------------------------------------------------------------------------


def test_compose_services_present() -> None:
    expected = {"postgres", "emulator", "emulator-seed", "airflow-init", *AIRFLOW_SERVICES}
    assert expected <= set(SERVICES)
    for name, command in AIRFLOW_SERVICES.items():
        assert command_text(SERVICES[name]) == command, name


def test_compose_builds_local_dockerfile() -> None:
    for name in ("emulator", "emulator-seed", "airflow-init", *AIRFLOW_SERVICES):
        assert SERVICES[name]["build"] == ".", name
        assert SERVICES[name]["image"] == "focus-billing-pipeline-airflow:local", name


def test_compose_mount_sources_exist() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO_ROOT / source).is_dir(), f"{name} mounts missing {source}"


def test_compose_mounts_pipeline_folders() -> None:
    targets = {volume.split(":")[1] for volume in SERVICES["airflow-scheduler"]["volumes"]}
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= targets


def test_compose_aws_connection_targets_emulator() -> None:
    environment = SERVICES["airflow-scheduler"]["environment"]
    connection = json.loads(environment["AIRFLOW_CONN_AWS_DEFAULT"])
    assert connection["conn_type"] == "aws"
    assert urlsplit(connection["extra"]["endpoint_url"]).hostname == "emulator"
    assert urlsplit(environment["AWS_ENDPOINT_URL"]).hostname == "emulator"
    assert environment["AWS_EC2_METADATA_DISABLED"] == "true"


def test_compose_urls_stay_local() -> None:
    text = (REPO_ROOT / "docker-compose.yaml").read_text(encoding="utf-8")
    hosts = {urlsplit(url).hostname for url in re.findall(r"https?://[^\s\"',}]+", text)}
    assert hosts <= LOCAL_HOSTS, f"non-local hosts: {sorted(hosts - LOCAL_HOSTS)}"


def test_compose_ports_bound_to_loopback() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_compose_variable_loads_as_config() -> None:
    raw = SERVICES["airflow-scheduler"]["environment"]["AIRFLOW_VAR_FOCUS_PIPELINE_CONFIG"]
    assert PipelineConfig.from_mapping(json.loads(raw)) == PipelineConfig()


def test_compose_modules_exist() -> None:
    modules = {words[0] for words in python_module_commands()}
    assert modules == set(MODULE_FLAGS)
    for module in modules:
        path = REPO_ROOT / "devtools" / module.replace(".", "/")
        assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), module


@pytest.mark.parametrize("module", sorted(MODULE_FLAGS))
def test_compose_module_flags_exist(module: str) -> None:
    used = {
        word for words in python_module_commands() if words[0] == module for word in words if word[:2] == "--"
    }
    assert used <= set(MODULE_FLAGS[module]), f"compose uses flags of {module} not listed here"
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": f"{REPO_ROOT / 'devtools'}:{REPO_ROOT / 'plugins'}", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 0, f"python -m {module} --help failed:\n{result.stderr[-2000:]}"
    for flag in MODULE_FLAGS[module]:
        assert flag in result.stdout, f"python -m {module} has no {flag} option"


def test_compose_manifest_queue_is_provisioned_queue() -> None:
    from focus_emulator.provision import MANIFEST_QUEUE

    url = SERVICES["airflow-triggerer"]["environment"]["FOCUS_MANIFEST_QUEUE_URL"]
    parts = urlsplit(url)
    assert parts.hostname == "emulator"
    assert parts.path.rsplit("/", 1)[-1] == MANIFEST_QUEUE


# --- emulator command lines ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000", "http://localhost:5000", "http://[::1]:5000"])
def test_provision_endpoint_loopback_accepted(url: str) -> None:
    from focus_emulator.provision import check_endpoint

    assert check_endpoint(url, []) == url


@pytest.mark.parametrize(
    "url", ["http://emulator:5000", "http://10.0.0.5:5000", "ftp://127.0.0.1", "emulator"]
)
def test_provision_endpoint_rejected(url: str) -> None:
    from focus_emulator.provision import check_endpoint

    with pytest.raises(ValueError, match="Invalid --endpoint-url"):
        check_endpoint(url, [])


def test_provision_endpoint_allow_host() -> None:
    from focus_emulator.provision import check_endpoint

    assert check_endpoint("http://emulator:5000", ["emulator"]) == "http://emulator:5000"
    with pytest.raises(ValueError, match="--allow-host"):
        check_endpoint("http://other:5000", ["emulator"])


def test_provision_cli_rejects_service_host(capsys: pytest.CaptureFixture[str]) -> None:
    from focus_emulator.provision import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--endpoint-url", "http://emulator:5000"])
    assert exit_info.value.code == 2
    assert "--allow-host" in capsys.readouterr().err


class StartedEmulator(Exception):
    """Raised by the stand-in emulator to end the command before it waits for a signal."""


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False), ("::1", False)])
def test_emulator_cli_warns_off_loopback(
    host: str, warned: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import focus_emulator.__main__ as cli

    hosts = []

    class StandInEmulator:
        def __init__(self, port: int | None = None, host: str = "") -> None:
            hosts.append(host)

        def __enter__(self) -> None:
            raise StartedEmulator

        def __exit__(self, *args: object) -> None:
            return None

    monkeypatch.setattr(cli, "Emulator", StandInEmulator)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    with caplog.at_level("WARNING", logger="focus_emulator"), pytest.raises(StartedEmulator):
        cli.main(["--host", host, "--port", "5000"])
    assert hosts == [host]
    assert any("not loopback" in record.getMessage() for record in caplog.records) is warned


# --- Dockerfile and astro files -----------------------------------------------------------------


def test_dockerfile_uses_airflow_331_image() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE) == ["apache/airflow:3.3.1-python3.12"]
    assert "ARG AIRFLOW_VERSION=3.3.1" in text


def test_dockerfile_copy_sources_exist() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    for line in re.findall(r"^COPY (.+)$", text, flags=re.MULTILINE):
        sources = [word for word in line.split()[:-1] if not word.startswith("--")]
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_packages_txt_lists_no_packages() -> None:
    lines = (REPO_ROOT / "packages.txt").read_text(encoding="utf-8").split()
    assert lines == []


def test_astro_project_file() -> None:
    assert load_yaml(".astro/config.yaml")["project"]["name"] == "focus-billing-pipeline"


def test_astro_settings_connection_targets_emulator() -> None:
    settings = load_yaml("airflow_settings.yaml")["airflow"]
    connections = {connection["conn_id"]: connection for connection in settings["connections"]}
    assert set(connections) == {"aws_default"}
    extra = connections["aws_default"]["conn_extra"]
    assert urlsplit(extra["endpoint_url"]).hostname == "emulator"
    assert connections["aws_default"]["conn_type"] == "aws"


def test_astro_settings_variable_loads_as_config() -> None:
    settings = load_yaml("airflow_settings.yaml")["airflow"]
    variables = {variable["variable_name"]: variable["variable_value"] for variable in settings["variables"]}
    assert PipelineConfig.from_mapping(json.loads(variables["focus_pipeline_config"])) == PipelineConfig()


def test_astro_override_adds_emulator() -> None:
    override = load_yaml("docker/astro/docker-compose.override.yml")
    emulator = override["services"]["emulator"]
    assert emulator["command"] == SERVICES["emulator"]["command"]
    assert all(port.startswith("127.0.0.1:") for port in emulator["ports"])
