"""Promotion: point a billing period's partition of ``focus_current`` at a validated snapshot.

The swap is one Glue call (``CreatePartition`` the first time, ``UpdatePartition`` after), so a
reader sees either the previous snapshot or the new one, never a mix. The partition's parameters
record which delivery it came from and the totals validation measured.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from typing import Any

from focus_pipeline.config import PipelineConfig

log = logging.getLogger(__name__)


def current_partition(glue_client: Any, config: PipelineConfig, billing_period: str) -> dict[str, Any] | None:
    """Return the focus_current partition of a billing period, or None before its first promotion."""
    try:
        response = glue_client.get_partition(
            DatabaseName=config.database, TableName=config.current_table, PartitionValues=[billing_period]
        )
    except glue_client.exceptions.EntityNotFoundException:
        return None
    return response["Partition"]


def current_snapshot(glue_client: Any, config: PipelineConfig, billing_period: str) -> dict[str, Any] | None:
    """Return the current snapshot of a period (delivery, rows, billed cost), or None."""
    partition = current_partition(glue_client, config, billing_period)
    if partition is None:
        return None
    parameters = partition.get("Parameters", {})
    return {
        "location": partition["StorageDescriptor"]["Location"],
        "delivery_id": parameters.get("delivery_id"),
        "execution_id": parameters.get("execution_id"),
        "rows": int(parameters.get("rows", 0)),
        "billed_cost": float(parameters.get("billed_cost", 0.0)),
        "usage_cost": float(parameters["usage_cost"]) if "usage_cost" in parameters else None,
        "max_charge_period_start": parameters.get("max_charge_period_start") or None,
    }


def list_current(glue_client: Any, config: PipelineConfig) -> dict[str, dict[str, Any]]:
    """Return every promoted billing period with the parameters of its current snapshot."""
    periods = {}
    paginator = glue_client.get_paginator("get_partitions")
    for page in paginator.paginate(DatabaseName=config.database, TableName=config.current_table):
        for partition in page["Partitions"]:
            periods[partition["Values"][0]] = {
                "location": partition["StorageDescriptor"]["Location"],
                **partition.get("Parameters", {}),
            }
    return dict(sorted(periods.items()))


def promote_snapshot(
    glue_client: Any,
    config: PipelineConfig,
    *,
    billing_period: str,
    location: str,
    delivery_id: str,
    execution_id: str,
    stats: dict[str, Any],
) -> str:
    """Point the period's focus_current partition at ``location`` in one Glue call.

    Returns ``"created"``, ``"updated"``, or ``"superseded"`` when the period already has a newer
    delivery (delivery ids start with the manifest time, so they sort by time): two runs that
    overlap, such as a backfill beside the live run, never put an older snapshot back. The partition
    copies the table's storage descriptor (columns, SerDe), so every promoted snapshot is read with
    the canonical FOCUS 1.2 schema.
    """
    table = glue_client.get_table(DatabaseName=config.database, Name=config.current_table)["Table"]
    storage = copy.deepcopy(table["StorageDescriptor"])
    storage["Location"] = location
    partition_input = {
        "Values": [billing_period],
        "StorageDescriptor": storage,
        "Parameters": {
            "delivery_id": delivery_id,
            "execution_id": execution_id,
            "rows": str(stats.get("rows", 0)),
            "billed_cost": repr(float(stats.get("billed_cost") or 0.0)),
            "usage_cost": repr(float(stats.get("usage_cost") or 0.0)),
            "max_charge_period_start": str(stats.get("max_charge_period_start") or ""),
            "promoted_at": datetime.now(UTC).isoformat(),
        },
    }
    existing = current_partition(glue_client, config, billing_period)
    current_delivery = (existing or {}).get("Parameters", {}).get("delivery_id") or ""
    if current_delivery > delivery_id:
        log.warning(
            "Not promoting %s for %s: the newer delivery %s is already current",
            delivery_id,
            billing_period,
            current_delivery,
        )
        return "superseded"
    if existing is None:
        glue_client.create_partition(
            DatabaseName=config.database, TableName=config.current_table, PartitionInput=partition_input
        )
        action = "created"
    else:
        glue_client.update_partition(
            DatabaseName=config.database,
            TableName=config.current_table,
            PartitionValueList=[billing_period],
            PartitionInput=partition_input,
        )
        action = "updated"
    log.info(
        "Promoted %s for %s (%s rows): partition %s", delivery_id, billing_period, stats.get("rows"), action
    )
    return action
