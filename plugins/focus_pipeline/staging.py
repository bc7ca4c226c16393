"""Stage a delivery: copy exactly the manifest's data files into an immutable snapshot folder.

Copying removes two races of the export location: in OVERWRITE_REPORT mode AWS replaces files in
place (a reader could see half of two refreshes), and in CREATE_NEW_REPORT mode every refresh adds a
folder of a full month-to-date snapshot (reading the prefix would sum them all). The snapshot folder
name carries the delivery id, so same-named files of different deliveries never overwrite each other.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from focus_pipeline.config import PipelineConfig
from focus_pipeline.exports import Manifest, parse_s3_uri

log = logging.getLogger(__name__)


class StagingError(RuntimeError):
    """A data file could not be staged whole, or the snapshot folder contains something unexpected."""


@dataclass(frozen=True)
class StagedFile:
    source: str
    key: str
    size: int
    etag: str


def snapshot_prefix(config: PipelineConfig, billing_period: str, delivery_id: str) -> str:
    """Key prefix of a delivery's snapshot folder, ending with a slash (Hive-style partitions)."""
    return f"{config.snapshots_prefix}/billing_period={billing_period}/delivery={delivery_id}/"


def snapshot_location(config: PipelineConfig, billing_period: str, delivery_id: str) -> str:
    return f"s3://{config.bucket}/{snapshot_prefix(config, billing_period, delivery_id)}"


def _same_etag(source: dict[str, Any], target: dict[str, Any]) -> bool:
    """Compare ETags where they are content hashes. A multipart upload's ETag ("<hash>-<parts>")
    is not, and a server-side copy gets a new one, so only the size can be compared then."""
    if "-" in source["ETag"] or "-" in target["ETag"]:
        return True
    return source["ETag"] == target["ETag"]


def raw_prefix(config: PipelineConfig, billing_period: str, delivery_id: str) -> str:
    """Key prefix for a delivery that must be normalised first, outside the crawler's target."""
    root = config.snapshots_prefix.rsplit("/", 1)[0] if "/" in config.snapshots_prefix else ""
    return f"{root + '/' if root else ''}raw/billing_period={billing_period}/delivery={delivery_id}/"


def stage_delivery(
    s3_hook: Any, config: PipelineConfig, manifest: Manifest, prefix: str | None = None
) -> list[StagedFile]:
    """Copy the manifest's data files to ``prefix`` (default: the snapshot folder) and check that each
    arrived whole.

    Idempotent: a file already staged with the source's size is not copied again. A staged file
    that differs from its source is an error, because snapshot folders are immutable. So is a source
    file written after the manifest: in OVERWRITE_REPORT mode that means the next refresh is being
    written over this delivery, and copying it would mix two deliveries.
    """
    names = [posixpath.basename(parse_s3_uri(uri)[1]) for uri in manifest.data_files]
    if len(set(names)) != len(names):
        raise StagingError(
            f"Delivery {manifest.execution_id} lists two data files with the same name; they would "
            "collide in one snapshot folder."
        )
    if prefix is None:
        prefix = snapshot_prefix(config, manifest.billing_period, manifest.delivery_id)
    staged = []
    for uri in manifest.data_files:
        source_bucket, source_key = parse_s3_uri(uri)
        source = s3_hook.head_object(source_key, source_bucket)
        if source is None:
            raise StagingError(
                f"Data file {uri} of delivery {manifest.execution_id} vanished before staging; a newer "
                "refresh may have replaced it (OVERWRITE_REPORT mode). The next run stages the new delivery."
            )
        written = source.get("LastModified")
        manifest_time = datetime.fromisoformat(manifest.last_modified) if manifest.last_modified else None
        if written is not None and manifest_time is not None and written > manifest_time:
            raise StagingError(
                f"Data file {uri} was written at {written.isoformat()}, after the manifest of delivery "
                f"{manifest.execution_id} ({manifest.last_modified}): a newer refresh is replacing it. "
                "The next run stages that refresh instead."
            )
        target_key = prefix + posixpath.basename(source_key)
        target = s3_hook.head_object(target_key, config.bucket)
        if target is None:
            s3_hook.copy_object(
                source_bucket_key=source_key,
                dest_bucket_key=target_key,
                source_bucket_name=source_bucket,
                dest_bucket_name=config.bucket,
            )
            target = s3_hook.head_object(target_key, config.bucket)
            log.info(
                "Staged %s to s3://%s/%s (%d bytes)", uri, config.bucket, target_key, source["ContentLength"]
            )
        if (
            target is None
            or target["ContentLength"] != source["ContentLength"]
            or not _same_etag(source, target)
        ):
            raise StagingError(
                f"Staged copy s3://{config.bucket}/{target_key} differs from its source {uri} "
                f"({None if target is None else target['ContentLength']} vs "
                f"{source['ContentLength']} bytes). "
                "Snapshot folders are immutable: investigate before deleting anything."
            )
        staged.append(
            StagedFile(source=uri, key=target_key, size=int(target["ContentLength"]), etag=target["ETag"])
        )
    return staged
