"""Findings log and alert messages: one implementation for the delivery DAG and the daily cost DAG.

Findings are appended as JSON lines under ``s3://<bucket>/<findings_prefix>/period=YYYY-MM/``
(the Glue table ``findings``). A fingerprint (detection id plus entity keys) alerts once per billing
period: after a successful publish, a marker object per fingerprint is written under
``<findings_prefix>_alerted/period=YYYY-MM/``, and every later run skips fingerprints with a marker,
whatever the number of deliveries, retries or backfills.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from focus_pipeline.config import PipelineConfig

log = logging.getLogger(__name__)

ENTITY_KEYS = ("sub_account_id", "region_id", "service_code", "resource_id", "commitment_discount_id")
OUTPUT_COLUMNS = (
    "detection_id",
    "severity",
    "billing_period",
    *ENTITY_KEYS,
    "first_seen",
    "amount",
    "evidence",
)
SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}
# SNS limits: subject at most 100 characters, message at most 256 KB.
MAX_SUBJECT = 100
MAX_MESSAGE_BYTES = 256 * 1024
# Findings listed one by one in a message; the rest is summarised and found in S3.
MAX_LISTED_FINDINGS = 50

NEW = "new"
BASELINE = "baseline"


def fingerprint(detection_id: str, finding: dict[str, Any]) -> str:
    """Hash of the detection id and the entity keys: the identity of a finding across runs."""
    parts = [detection_id] + [str(finding.get(key) or "") for key in ENTITY_KEYS]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def rows_to_findings(
    rows: list[dict[str, Any]],
    *,
    detection: Any,
    status: str,
    execution_id: str,
) -> list[dict[str, Any]]:
    """Turn detection result rows into finding records with fingerprint, workload and status."""
    recorded_at = datetime.now(UTC).isoformat()
    findings = []
    for row in rows:
        finding = {column: row.get(column) for column in OUTPUT_COLUMNS}
        finding["amount"] = float(finding["amount"]) if finding["amount"] not in (None, "") else 0.0
        finding["detection_id"] = finding["detection_id"] or detection.id
        finding["severity"] = finding["severity"] or detection.severity
        finding["workload"] = detection.workload
        finding["fingerprint"] = fingerprint(finding["detection_id"], finding)
        finding["status"] = status
        finding["execution_id"] = execution_id
        finding["recorded_at"] = recorded_at
        findings.append(finding)
    return findings


def findings_key(config: PipelineConfig, billing_period: str, detection_id: str, run_key: str) -> str:
    """Key of one run's findings of one detection; a retry rewrites the same object."""
    return f"{config.findings_prefix}/period={billing_period}/{detection_id}-{run_key}.json"


def alerted_prefix(config: PipelineConfig, billing_period: str) -> str:
    return f"{config.findings_prefix}_alerted/period={billing_period}/"


def write_findings(
    s3_hook: Any, glue_client: Any, config: PipelineConfig, findings: list[dict[str, Any]], run_key: str
) -> list[str]:
    """Append findings to the log, one JSON-lines object per period and detection, and register the
    period partition of the findings table. Returns the keys written."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for finding in findings:
        groups.setdefault((finding["billing_period"], finding["detection_id"]), []).append(finding)
    keys = []
    for (period, detection_id), group in sorted(groups.items()):
        key = findings_key(config, period, detection_id, run_key)
        body = "\n".join(json.dumps(finding, sort_keys=True) for finding in group) + "\n"
        s3_hook.load_string(body, key, config.bucket, replace=True)
        register_findings_partition(glue_client, config, period)
        keys.append(key)
    return keys


def register_findings_partition(glue_client: Any, config: PipelineConfig, billing_period: str) -> None:
    table = glue_client.get_table(DatabaseName=config.database, Name=config.findings_table)["Table"]
    storage = dict(table["StorageDescriptor"])
    storage["Location"] = f"s3://{config.bucket}/{config.findings_prefix}/period={billing_period}/"
    try:
        glue_client.create_partition(
            DatabaseName=config.database,
            TableName=config.findings_table,
            PartitionInput={"Values": [billing_period], "StorageDescriptor": storage},
        )
    except glue_client.exceptions.AlreadyExistsException:
        pass


def alerted_fingerprints(s3_hook: Any, config: PipelineConfig, billing_period: str) -> set[str]:
    keys = s3_hook.list_keys(config.bucket, prefix=alerted_prefix(config, billing_period)) or []
    return {key.rsplit("/", 1)[-1].removesuffix(".json") for key in keys}


def mark_alerted(
    s3_hook: Any, config: PipelineConfig, findings: list[dict[str, Any]], message_id: str
) -> None:
    """Write one marker per alerted fingerprint so no later run alerts it again in that period."""
    alerted_at = datetime.now(UTC).isoformat()
    for finding in findings:
        key = alerted_prefix(config, finding["billing_period"]) + f"{finding['fingerprint']}.json"
        marker = {"detection_id": finding["detection_id"], "alerted_at": alerted_at, "message_id": message_id}
        s3_hook.load_string(json.dumps(marker), key, config.bucket, replace=True)


def select_unalerted(s3_hook: Any, config: PipelineConfig, findings: list[dict[str, Any]]) -> list[dict]:
    """Keep the new (not baseline) findings whose fingerprint has not alerted in their period."""
    seen: dict[str, set[str]] = {}
    selected = []
    for finding in findings:
        if finding["status"] != NEW:
            continue
        period = finding["billing_period"]
        if period not in seen:
            seen[period] = alerted_fingerprints(s3_hook, config, period)
        if finding["fingerprint"] in seen[period]:
            continue
        seen[period].add(finding["fingerprint"])
        selected.append(finding)
    return selected


def _is_fifo(topic_arn: str) -> bool:
    return topic_arn.endswith(".fifo")


def _describe(finding: dict[str, Any]) -> str:
    keys = ", ".join(f"{key}={finding[key]}" for key in ENTITY_KEYS if finding.get(key))
    try:
        evidence = json.loads(finding.get("evidence") or "{}")
    except json.JSONDecodeError:
        evidence = {}
    if isinstance(evidence, dict) and evidence.get("cloudwatch_status"):
        keys += f", CloudWatch: {evidence['cloudwatch_status']}"
    return (
        f"- [{finding['severity']}] {finding['detection_id']} {finding['billing_period']}: {keys}; "
        f"amount {finding['amount']:.2f} USD; first seen {finding.get('first_seen') or 'n/a'}"
    )


def build_messages(
    findings: list[dict[str, Any]], *, config: PipelineConfig, context_line: str
) -> list[dict[str, Any]]:
    """Build one SNS publish request per detection: subject, body, attributes and FIFO ids.

    Zero findings build zero messages: a quiet run sends nothing. The body lists up to
    ``MAX_LISTED_FINDINGS`` findings and points to the findings log for the rest.
    """
    by_detection: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        by_detection.setdefault(finding["detection_id"], []).append(finding)
    messages = []
    for detection_id, group in sorted(by_detection.items()):
        periods = sorted({finding["billing_period"] for finding in group})
        severity = max((finding["severity"] for finding in group), key=lambda s: SEVERITY_ORDER.get(s, 0))
        count = len(group)
        subject = (
            f"FOCUS {group[0]['workload']}: {count} {detection_id} finding{'s' if count != 1 else ''} "
            f"({', '.join(periods)})"
        )
        lines = [
            f"{count} new {detection_id} finding{'s' if count != 1 else ''} ({severity}).",
            context_line,
            "",
            *(_describe(finding) for finding in group[:MAX_LISTED_FINDINGS]),
        ]
        if count > MAX_LISTED_FINDINGS:
            lines.append(f"... and {count - MAX_LISTED_FINDINGS} more.")
        lines.append("")
        lines.append(
            "All findings: "
            + ", ".join(f"s3://{config.bucket}/{config.findings_prefix}/period={p}/" for p in periods)
        )
        body = "\n".join(lines)
        while len(body.encode()) > MAX_MESSAGE_BYTES:
            lines = lines[: max(4, len(lines) // 2)] + ["... (cut to fit the SNS message size)"]
            body = "\n".join(lines)
        fingerprints = sorted(finding["fingerprint"] for finding in group)
        request: dict[str, Any] = {
            "subject": subject[:MAX_SUBJECT],
            "message": body,
            "message_attributes": {
                "workload": group[0]["workload"],
                "severity": severity,
                "detection_id": detection_id,
            },
            "fingerprints": fingerprints,
            "finding_count": count,
        }
        if _is_fifo(config.topic_arn):
            request["message_group_id"] = detection_id
            request["message_deduplication_id"] = hashlib.sha256(
                ("|".join(periods) + "|" + ",".join(fingerprints)).encode()
            ).hexdigest()[:64]
        messages.append(request)
    return messages


def delivery_alert(
    *,
    config: PipelineConfig,
    billing_period: str,
    execution_id: str,
    outcome: str,
    summary: str,
    severity: str = "high",
) -> dict[str, Any]:
    """Build the publish request that reports a quarantined, held-back or drifted delivery."""
    subject = f"FOCUS delivery {outcome}: {billing_period} {execution_id}"[:MAX_SUBJECT]
    request: dict[str, Any] = {
        "subject": subject,
        "message": f"Delivery {execution_id} of billing period {billing_period}: {outcome}.\n\n{summary}\n",
        "message_attributes": {
            "workload": "pipeline",
            "severity": severity,
            "detection_id": f"delivery_{outcome}",
        },
        "fingerprints": [],
        "finding_count": 0,
    }
    if _is_fifo(config.topic_arn):
        request["message_group_id"] = "delivery"
        request["message_deduplication_id"] = hashlib.sha256(
            f"{billing_period}|{execution_id}|{outcome}".encode()
        ).hexdigest()[:64]
    return request


def not_evaluated_marker(entry: dict[str, Any]) -> dict[str, Any]:
    """Turn a "not evaluated: <column> absent" entry of a run's results into a record that can be
    alerted once per billing period through the same markers as findings."""
    detection_id = entry["detection_id"]
    return {
        "detection_id": detection_id,
        "billing_period": entry["billing_period"],
        "fingerprint": fingerprint("not_evaluated", {"resource_id": detection_id}),
        "status": NEW,
        "reason": entry["status"],
    }


def not_evaluated_alert(marker: dict[str, Any], *, config: PipelineConfig) -> dict[str, Any]:
    """Build the publish request that reports a detection which could not run, so that silence is
    never read as "0 findings"."""
    detection_id, period = marker["detection_id"], marker["billing_period"]
    request: dict[str, Any] = {
        "subject": f"FOCUS detection not evaluated: {detection_id} ({period})"[:MAX_SUBJECT],
        "message": (
            f"Detection {detection_id} was not evaluated for billing period {period}: {marker['reason']}.\n"
            "Its findings are unknown, not zero. Check the columns of the focus_current table.\n"
        ),
        "message_attributes": {"workload": "pipeline", "severity": "low", "detection_id": detection_id},
        "fingerprints": [marker["fingerprint"]],
        "finding_count": 0,
        "findings": [marker],
    }
    if _is_fifo(config.topic_arn):
        request["message_group_id"] = "not_evaluated"
        request["message_deduplication_id"] = hashlib.sha256(
            f"{period}|{marker['fingerprint']}".encode()
        ).hexdigest()[:64]
    return request
