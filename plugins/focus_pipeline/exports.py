"""Find AWS Data Exports deliveries: manifests, billing periods in scope and readiness.

An export writes its data files first and its manifest last, so a manifest whose every listed data
file exists and is non-empty marks a complete delivery. The manifest carries no billing period; it
comes from the ``BILLING_PERIOD=YYYY-MM`` folder, whose key AWS has also written in lower case.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

MANIFEST_SUFFIX = "-Manifest.json"
_PERIOD_IN_KEY = re.compile(r"/billing_period=(\d{4}-\d{2})/", re.IGNORECASE)
_REQUIRED_MANIFEST_FIELDS = ("executionId", "dataFiles")


class ManifestError(ValueError):
    """A manifest that cannot be used: unreadable JSON or a missing or malformed field."""


@dataclass(frozen=True)
class Manifest:
    """One export delivery as its manifest describes it."""

    key: str
    bucket: str
    billing_period: str
    execution_id: str
    data_files: tuple[str, ...]
    columns: tuple[dict[str, str], ...] = ()
    export_arn: str | None = None
    last_modified: str = ""  # ISO 8601 UTC, from the manifest object's LastModified

    @property
    def delivery_id(self) -> str:
        """Snapshot folder name: the manifest time then the execution id, so folders sort by time."""
        stamp = datetime.fromisoformat(self.last_modified).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return f"{stamp}-{self.execution_id}"

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["data_files"] = list(self.data_files)
        values["columns"] = list(self.columns)
        values["delivery_id"] = self.delivery_id
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Manifest:
        values = {k: v for k, v in values.items() if k != "delivery_id"}
        values["data_files"] = tuple(values.get("data_files", ()))
        values["columns"] = tuple(values.get("columns", ()))
        return cls(**values)


@dataclass
class Readiness:
    """Result of scanning an export: complete unprocessed deliveries, and the reason others wait."""

    ready: list[Manifest] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)  # manifest key -> reason
    processed: list[str] = field(default_factory=list)  # manifest keys already handled
    invalid: dict[str, str] = field(default_factory=dict)  # manifest key -> why it cannot be used
    waiting_since: dict[str, str] = field(default_factory=dict)  # manifest key -> its LastModified

    def stale(self, now: datetime, hours: float) -> dict[str, str]:
        """Return the waiting manifests written more than ``hours`` before ``now``, with their reasons."""
        return {
            key: reason
            for key, reason in self.waiting.items()
            if (now - datetime.fromisoformat(self.waiting_since[key])).total_seconds() > hours * 3600
        }


def billing_period_of_key(key: str) -> str | None:
    """Return the ``YYYY-MM`` billing period of an export key, matching the partition key in any case."""
    match = _PERIOD_IN_KEY.search("/" + key)
    return match.group(1) if match else None


def previous_period(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def periods_in_scope(now: datetime, previous_until_day: int) -> list[str]:
    """Return the billing periods to watch at ``now``: the current one, and the previous one until
    ``previous_until_day`` of the month (AWS restates a closed month for about two weeks)."""
    current = f"{now.year}-{now.month:02d}"
    if now.day <= previous_until_day:
        return [previous_period(current), current]
    return [current]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ManifestError(f"Data file {uri!r} is not an s3://bucket/key URI.")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def parse_manifest(body: bytes | str, *, bucket: str, key: str, last_modified: datetime | str) -> Manifest:
    """Parse a Data Exports manifest, raising ``ManifestError`` that names the key and the field."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as err:
        raise ManifestError(f"Manifest s3://{bucket}/{key} is not valid JSON: {err}.") from err
    if not isinstance(document, dict):
        raise ManifestError(f"Manifest s3://{bucket}/{key} is not a JSON object.")
    missing = [name for name in _REQUIRED_MANIFEST_FIELDS if name not in document]
    if missing:
        raise ManifestError(
            f"Manifest s3://{bucket}/{key} lacks {', '.join(missing)}; it is not a Data Exports manifest "
            "or was cut short. Check the export's configuration."
        )
    data_files = document["dataFiles"]
    if not isinstance(data_files, list) or not all(isinstance(uri, str) for uri in data_files):
        raise ManifestError(f"Manifest s3://{bucket}/{key} has dataFiles that are not a list of URIs.")
    for uri in data_files:
        parse_s3_uri(uri)
    if len(set(data_files)) != len(data_files):
        raise ManifestError(f"Manifest s3://{bucket}/{key} lists one data file twice.")
    period = billing_period_of_key(key)
    if period is None:
        raise ManifestError(
            f"Manifest s3://{bucket}/{key} is not under a BILLING_PERIOD=YYYY-MM folder; the billing "
            "period cannot be known."
        )
    if isinstance(last_modified, datetime):
        last_modified = last_modified.astimezone(UTC).isoformat()
    return Manifest(
        key=key,
        bucket=bucket,
        billing_period=period,
        execution_id=str(document["executionId"]),
        data_files=tuple(data_files),
        columns=tuple(document.get("columns") or ()),
        export_arn=document.get("exportArn"),
        last_modified=last_modified,
    )


def manifest_pattern(export_root: str) -> str:
    """Wildcard (fnmatch) pattern of the manifests of every billing period of an export."""
    return f"{export_root}/metadata/*/*{MANIFEST_SUFFIX}"


def list_manifests(s3_hook: Any, bucket: str, export_root: str, periods: list[str]) -> list[dict[str, Any]]:
    """List manifest objects (Key, Size, LastModified) of the given billing periods, oldest first."""
    found = []
    for item in s3_hook.iter_file_metadata(f"{export_root}/metadata/", bucket):
        key = item["Key"]
        if key.endswith(MANIFEST_SUFFIX) and billing_period_of_key(key) in periods:
            found.append(item)
    return sorted(found, key=lambda item: item["LastModified"])


def missing_data_files(s3_hook: Any, manifest: Manifest) -> list[str]:
    """Return the data files of a manifest that do not exist yet or are empty."""
    missing = []
    for uri in manifest.data_files:
        bucket, key = parse_s3_uri(uri)
        head = s3_hook.head_object(key, bucket)
        if head is None or not head.get("ContentLength"):
            missing.append(uri)
    return missing


def scan_export(
    s3_hook: Any,
    *,
    bucket: str,
    export_root: str,
    periods: list[str],
    processed_execution_ids: set[str],
) -> Readiness:
    """Read every manifest in scope and sort it into ready, waiting or already processed."""
    readiness = Readiness()
    for item in list_manifests(s3_hook, bucket, export_root, periods):
        key = item["Key"]
        body = s3_hook.read_key(key, bucket)
        try:
            manifest = parse_manifest(body, bucket=bucket, key=key, last_modified=item["LastModified"])
        except ManifestError as err:
            # One broken manifest must not stop the other periods' deliveries; the caller reports it.
            log.error("Skipping manifest s3://%s/%s: %s", bucket, key, err)
            readiness.invalid[key] = str(err)
            continue
        if manifest.execution_id in processed_execution_ids:
            readiness.processed.append(key)
            continue
        missing = missing_data_files(s3_hook, manifest)
        if missing:
            readiness.waiting[key] = (
                f"{len(missing)} of {len(manifest.data_files)} data files missing or empty"
            )
            readiness.waiting_since[key] = manifest.last_modified
            log.info(
                "Delivery %s of %s is not complete yet: %s",
                manifest.execution_id,
                manifest.billing_period,
                readiness.waiting[key],
            )
            continue
        readiness.ready.append(manifest)
    return readiness
