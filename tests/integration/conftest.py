"""Fixtures of the integration tests."""

from tests.emulator_fixtures import aws, emulator  # noqa: F401 - re-exported pytest fixtures
