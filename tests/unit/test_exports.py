"""Manifest parsing, billing periods in scope and delivery ids of AWS Data Exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from focus_pipeline.exports import (
    ManifestError,
    billing_period_of_key,
    parse_manifest,
    periods_in_scope,
    previous_period,
)

pytestmark = pytest.mark.unit

KEY = "exports/focus-export/metadata/BILLING_PERIOD=2026-04/focus-export-Manifest.json"
DATA = (
    "s3://exports-bucket/exports/focus-export/data/BILLING_PERIOD=2026-04/focus-export-00001.snappy.parquet"
)


def manifest_body(**overrides) -> str:
    document = {
        "executionId": "0f9a",
        "exportArn": "arn:aws:bcm-data-exports:::export/x",
        "dataFiles": [DATA],
    }
    document.update(overrides)
    return json.dumps({key: value for key, value in document.items() if value is not None})


@pytest.mark.parametrize(
    ("key", "period"),
    [
        (KEY, "2026-04"),
        ("exports/focus-export/data/billing_period=2026-11/x.parquet", "2026-11"),
        ("exports/focus-export/data/Billing_Period=2025-01/2025-01-02T00:00:00.000Z-ab/x.parquet", "2025-01"),
        ("exports/focus-export/aws-programmatic-access-test-object", None),
    ],
)
def test_billing_period_of_key(key, period):
    assert billing_period_of_key(key) == period


def test_previous_period_crosses_year():
    assert previous_period("2026-01") == "2025-12"
    assert previous_period("2026-07") == "2026-06"


def test_scope_keeps_previous_until_fifteenth():
    assert periods_in_scope(datetime(2026, 5, 15, 23, tzinfo=UTC), 15) == ["2026-04", "2026-05"]
    assert periods_in_scope(datetime(2026, 5, 16, tzinfo=UTC), 15) == ["2026-05"]
    assert periods_in_scope(datetime(2026, 1, 2, tzinfo=UTC), 15) == ["2025-12", "2026-01"]


def test_manifest_period_from_path():
    manifest = parse_manifest(
        manifest_body(),
        bucket="exports-bucket",
        key=KEY,
        last_modified=datetime(2026, 4, 9, 8, 1, 2, tzinfo=UTC),
    )
    assert manifest.billing_period == "2026-04"
    assert manifest.execution_id == "0f9a"
    assert manifest.data_files == (DATA,)
    assert manifest.delivery_id == "20260409T080102Z-0f9a"


def test_manifest_round_trips_through_dict():
    manifest = parse_manifest(manifest_body(), bucket="b", key=KEY, last_modified="2026-04-09T08:01:02+00:00")
    assert type(manifest).from_dict(manifest.to_dict()) == manifest


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "is not valid JSON"),
        (manifest_body(executionId=None), "lacks executionId"),
        (manifest_body(dataFiles="s3://b/k"), "not a list of URIs"),
        (manifest_body(dataFiles=["/local/file.parquet"]), "is not an s3://bucket/key URI"),
        (manifest_body(dataFiles=[DATA, DATA]), "lists one data file twice"),
    ],
)
def test_manifest_errors_name_the_problem(body, message):
    with pytest.raises(ManifestError, match=message):
        parse_manifest(body, bucket="b", key=KEY, last_modified="2026-04-09T08:01:02+00:00")


def test_manifest_outside_period_folder_rejected():
    with pytest.raises(ManifestError, match="not under a BILLING_PERIOD=YYYY-MM folder"):
        parse_manifest(
            manifest_body(),
            bucket="b",
            key="exports/x-Manifest.json",
            last_modified="2026-04-09T08:00:00+00:00",
        )


def test_readiness_stale_after_hours():
    from focus_pipeline.exports import Readiness

    readiness = Readiness(
        waiting={"a": "1 of 2 data files missing or empty", "b": "2 of 2 data files missing or empty"},
        waiting_since={"a": "2026-04-09T00:00:00+00:00", "b": "2026-04-09T07:00:00+00:00"},
    )

    assert readiness.stale(datetime(2026, 4, 9, 8, tzinfo=UTC), 6) == {
        "a": "1 of 2 data files missing or empty"
    }
    assert readiness.stale(datetime(2026, 4, 9, 5, tzinfo=UTC), 6) == {}
