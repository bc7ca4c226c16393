"""The delivery log: one JSON record per export delivery, the pipeline's memory of what it handled.

Records live at ``s3://<bucket>/<deliveries_prefix>/billing_period=YYYY-MM/<executionId>.json``.
A record is rewritten as the delivery moves through the pipeline; only the terminal statuses mark a
delivery as processed, so a run that crashed between staging and promotion is picked up again.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from focus_pipeline.config import PipelineConfig

log = logging.getLogger(__name__)

STAGED = "staged"
PROMOTED = "promoted"
QUARANTINED = "quarantined"
REGRESSED = "regressed"
# An older delivery that reached promotion after a newer one of its period was already promoted.
SUPERSEDED = "superseded"
# A delivery whose runs kept failing: given up after PipelineConfig.max_attempts, with an alert.
FAILED = "failed"
TERMINAL_STATUSES = frozenset({PROMOTED, QUARANTINED, REGRESSED, SUPERSEDED, FAILED})


def record_key(config: PipelineConfig, billing_period: str, execution_id: str) -> str:
    return f"{config.deliveries_prefix}/billing_period={billing_period}/{execution_id}.json"


def read_record(s3_hook: Any, config: PipelineConfig, billing_period: str, execution_id: str) -> dict | None:
    key = record_key(config, billing_period, execution_id)
    if not s3_hook.check_for_key(key, config.bucket):
        return None
    return json.loads(s3_hook.read_key(key, config.bucket))


def write_record(s3_hook: Any, config: PipelineConfig, record: dict[str, Any]) -> dict[str, Any]:
    """Write (or rewrite) a delivery's record, stamping ``updated_at``."""
    record = {**record, "updated_at": datetime.now(UTC).isoformat()}
    key = record_key(config, record["billing_period"], record["execution_id"])
    s3_hook.load_string(json.dumps(record, sort_keys=True), key, config.bucket, replace=True)
    return record


def update_record(
    s3_hook: Any, config: PipelineConfig, billing_period: str, execution_id: str, **changes: Any
) -> dict[str, Any]:
    record = read_record(s3_hook, config, billing_period, execution_id) or {
        "billing_period": billing_period,
        "execution_id": execution_id,
    }
    record.update(changes)
    return write_record(s3_hook, config, record)


def list_records(s3_hook: Any, config: PipelineConfig, periods: list[str] | None = None) -> list[dict]:
    """Return the delivery records of the given billing periods (all when None), oldest first."""
    prefixes = (
        [f"{config.deliveries_prefix}/billing_period={period}/" for period in periods]
        if periods is not None
        else [f"{config.deliveries_prefix}/"]
    )
    records = []
    for prefix in prefixes:
        for key in s3_hook.list_keys(config.bucket, prefix=prefix) or []:
            if key.endswith(".json"):
                records.append(json.loads(s3_hook.read_key(key, config.bucket)))
    return sorted(
        records, key=lambda record: (record.get("manifest_last_modified", ""), record["execution_id"])
    )


def processed_execution_ids(
    s3_hook: Any, config: PipelineConfig, periods: list[str], records: list[dict] | None = None
) -> set[str]:
    """Execution ids whose delivery reached a terminal status (promoted, quarantined, held back...)."""
    if records is None:
        records = list_records(s3_hook, config, periods)
    return {record["execution_id"] for record in records if record.get("status") in TERMINAL_STATUSES}
