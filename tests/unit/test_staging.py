"""Staging copies exactly the manifest's files and refuses a mix of two refreshes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from focus_pipeline.config import PipelineConfig
from focus_pipeline.exports import Manifest
from focus_pipeline.staging import StagingError, snapshot_prefix, stage_delivery

pytestmark = pytest.mark.unit

MANIFEST_TIME = datetime(2026, 4, 9, 8, 0, 5, tzinfo=UTC)
SOURCE = "exports/focus-export/data/BILLING_PERIOD=2026-04/focus-export-00001.snappy.parquet"


class FakeS3Hook:
    """The S3Hook calls staging makes, over a dict of (bucket, key) -> head."""

    def __init__(self, objects: dict[tuple[str, str], dict]):
        self.objects = objects
        self.copies = 0

    def head_object(self, key, bucket):
        return self.objects.get((bucket, key))

    def copy_object(self, source_bucket_key, dest_bucket_key, source_bucket_name, dest_bucket_name):
        self.copies += 1
        source = self.objects[(source_bucket_name, source_bucket_key)]
        # A server-side copy of a multipart object gets a new, single-part ETag.
        self.objects[(dest_bucket_name, dest_bucket_key)] = {**source, "ETag": '"copied"'}


def manifest() -> Manifest:
    return Manifest(
        key="exports/focus-export/metadata/BILLING_PERIOD=2026-04/focus-export-Manifest.json",
        bucket="exports",
        billing_period="2026-04",
        execution_id="e1",
        data_files=(f"s3://exports/{SOURCE}",),
        last_modified=MANIFEST_TIME.isoformat(),
    )


def test_multipart_source_staged_once():
    config = PipelineConfig()
    written = datetime(2026, 4, 9, 8, 0, 1, tzinfo=UTC)
    hook = FakeS3Hook(
        {("exports", SOURCE): {"ContentLength": 10, "ETag": '"abc-3"', "LastModified": written}}
    )

    first = stage_delivery(hook, config, manifest())
    again = stage_delivery(hook, config, manifest())

    assert hook.copies == 1
    assert [item.key for item in first] == [
        snapshot_prefix(config, "2026-04", manifest().delivery_id) + SOURCE.rsplit("/", 1)[1]
    ]
    assert first == again


def test_file_newer_than_manifest_rejected():
    rewritten = datetime(2026, 4, 9, 14, 0, tzinfo=UTC)
    hook = FakeS3Hook(
        {("exports", SOURCE): {"ContentLength": 10, "ETag": '"def"', "LastModified": rewritten}}
    )

    with pytest.raises(StagingError, match="a newer refresh is replacing it"):
        stage_delivery(hook, PipelineConfig(), manifest())
    assert hook.copies == 0


def test_missing_source_rejected():
    with pytest.raises(StagingError, match="vanished before staging"):
        stage_delivery(FakeS3Hook({}), PipelineConfig(), manifest())
