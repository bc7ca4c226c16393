"""Staging of a delivery that Athena normalises: complete output is reused, partial output is refused."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from tests.integration.delivery_harness import land_delivery
from tests.integration.focus_rows import focus_row, focus_table

from focus_pipeline import pipeline, staging
from focus_pipeline.focus_schema import AWS_FOCUS_1_0_COLUMNS

pytestmark = pytest.mark.integration

RUN_TIME = datetime(2026, 4, 10, 12, tzinfo=UTC)


def focus_1_0_delivery(aws):
    rows = [focus_row(index, x_UsageType="BoxUsage:m6i.large") for index in range(5)]
    land_delivery(aws, focus_table(rows, schema=AWS_FOCUS_1_0_COLUMNS), "2026-04")
    config = dataclasses.replace(aws.config, poll_seconds=0.05)
    (manifest,) = pipeline.scan_for_deliveries(config, RUN_TIME).ready
    return config, manifest


def test_normalised_output_staged_once(aws):
    config, manifest = focus_1_0_delivery(aws)

    first = pipeline.stage(config, manifest)
    second = pipeline.stage(config, manifest)

    assert first["staged_files"] == second["staged_files"]
    assert first["raw_files"] == second["raw_files"]
    assert len(first["raw_files"]) == 1
    assert all(not item["key"].endswith(pipeline.NORMALISED_MARKER) for item in first["staged_files"])
    assert second["record"]["attempts"] == 2


def test_interrupted_normalisation_refused(aws):
    config, manifest = focus_1_0_delivery(aws)
    prefix = staging.snapshot_prefix(config, manifest.billing_period, manifest.delivery_id)
    aws.client("s3").put_object(Bucket=config.bucket, Key=prefix + "unload_0", Body=b"partial")

    with pytest.raises(staging.StagingError, match="interrupted normalisation"):
        pipeline.stage(config, manifest)
