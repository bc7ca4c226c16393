"""Test configuration shared by every test: marker enforcement and AWS isolation."""

from __future__ import annotations

import os

import pytest

# Every test runs with fake credentials and no profile, so no client can sign a request for a
# real account even if an endpoint were wrong.
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

_KIND_MARKERS = {"unit", "integration", "validator"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Reject tests that carry neither the unit nor the integration marker."""
    unmarked = [item.nodeid for item in items if not _KIND_MARKERS & {m.name for m in item.iter_markers()}]
    if unmarked:
        raise pytest.UsageError(
            "Tests without a unit or integration marker: " + ", ".join(unmarked[:10])
            + ". Add 'pytestmark = pytest.mark.unit' (or integration) to the module."
        )
