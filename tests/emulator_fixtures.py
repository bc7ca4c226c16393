"""pytest fixtures for the local AWS emulator: one server per session, clean state per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from focus_emulator import guard
from focus_emulator.provision import provision
from focus_emulator.server import Emulator
from focus_pipeline.config import PipelineConfig


@dataclass
class AwsEnvironment:
    """A provisioned emulator: its endpoint, the config it was provisioned with, and what was created."""

    endpoint_url: str
    config: PipelineConfig
    resources: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.config.region_name,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


# Every botocore client of a test session that uses the emulator sends only to loopback.
guard.install()


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def aws(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> AwsEnvironment:
    emulator.reset()
    config = PipelineConfig()
    resources = provision(emulator.endpoint_url, config)
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"region_name": config.region_name, "endpoint_url": emulator.endpoint_url},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    return AwsEnvironment(emulator.endpoint_url, config, resources)
