"""The ``period_account`` layout: a copy of each promoted snapshot partitioned by billing period and
account, in the table ``focus_current_by_account`` (partition keys ``billing_period``, ``sub_account``).

Queries about one account or a few read only their accounts' files there, instead of the whole
period in ``focus_current``. ``focus_current`` stays the table of record in both layouts.

Repartitioning runs in Athena: one UNLOAD writes the validated snapshot into
``<by_account_prefix>/billing_period=<period>/delivery=<id>/sub_account=<SubAccountId>/``, a folder
of its own (never under the snapshot folder, which the crawler and ``focus_current`` read whole).
Rows without a SubAccountId go to ``sub_account=none``.

Promotion swaps the period's partitions in one ``BatchUpdatePartition`` call:

1. Accounts new to the period are created first, pointing at an empty folder, so readers still
   see exactly the previous delivery.
2. One call points every partition of the period at the new delivery: accounts it contains at
   their folder, accounts it lacks at the empty folder. Partitions are never deleted, so there is
   no second call that a reader could see half done.

NOTE: Glue does not document BatchUpdatePartition as atomic for concurrent readers, and it reports
errors per entry. The emulator applies the call as one request; on AWS a query planned during the
call could still see a mix. A call that fails for some entries raises, and rerunning the task
completes the swap.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from typing import Any

from focus_pipeline.config import PipelineConfig

log = logging.getLogger(__name__)

PERIOD = "period"
PERIOD_ACCOUNT = "period_account"
LAYOUTS = (PERIOD, PERIOD_ACCOUNT)
ACCOUNT_KEY = "sub_account"
NO_ACCOUNT = "none"
# Athena writes at most 100 partitions per UNLOAD or CTAS, and BatchUpdatePartition takes at
# most 100 entries, so a period swapped in one call has at most 100 accounts.
MAX_ACCOUNTS_PER_PERIOD = 100
MARKER = "_layout_complete"
_ACCOUNT_FOLDER = re.compile(rf"/{ACCOUNT_KEY}=([^/]+)/")


class LayoutError(RuntimeError):
    """The period_account copy of a delivery cannot be written or promoted."""


def check_layout(config: PipelineConfig) -> str:
    """Return ``config.current_layout``, raising ValueError when it is not a known layout."""
    if config.current_layout not in LAYOUTS:
        raise ValueError(
            f"current_layout {config.current_layout!r} is invalid; use one of: {', '.join(LAYOUTS)}."
        )
    return config.current_layout


def delivery_prefix(config: PipelineConfig, billing_period: str, delivery_id: str) -> str:
    """Key prefix of a delivery's period_account copy, ending with a slash."""
    root = config.by_account_prefix.strip("/")
    return f"{root}/billing_period={billing_period}/delivery={delivery_id}/"


def empty_location(config: PipelineConfig) -> str:
    """Folder that never contains data: the location of an account absent from the current delivery."""
    return f"s3://{config.bucket}/{config.by_account_prefix.strip('/')}/empty/"


def build_unload_sql(
    config: PipelineConfig, billing_period: str, delivery_id: str, columns: list[str]
) -> str:
    """Return the UNLOAD that writes one delivery of focus_snapshots partitioned by account."""
    selected = ", ".join(f'"{name}"' for name in columns)
    target = f"s3://{config.bucket}/{delivery_prefix(config, billing_period, delivery_id)}"
    return (
        f"UNLOAD (SELECT {selected}, COALESCE(\"subaccountid\", '{NO_ACCOUNT}') AS {ACCOUNT_KEY} "
        f'FROM "{config.database}"."{config.snapshots_table}" '
        f"WHERE billing_period = '{billing_period}' AND delivery = '{delivery_id}') "
        f"TO '{target}' WITH (format = 'PARQUET', compression = 'SNAPPY', "
        f"partitioned_by = ARRAY['{ACCOUNT_KEY}'])"
    )


def _list_keys(s3_client: Any, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _accounts_of(keys: list[str]) -> list[str]:
    return sorted({match.group(1) for key in keys if (match := _ACCOUNT_FOLDER.search(key))})


def _wait_for_query(athena_client: Any, query_id: str, poll_seconds: float) -> dict[str, Any]:
    while True:
        execution = athena_client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return execution
        time.sleep(poll_seconds)


def repartition_snapshot(
    config: PipelineConfig,
    *,
    athena_client: Any,
    s3_client: Any,
    glue_client: Any,
    billing_period: str,
    delivery_id: str,
) -> list[str]:
    """Write the delivery's period_account copy with one Athena UNLOAD and return its accounts.

    Idempotent: a copy that finished (its marker object exists) is reused, and a folder left
    by an interrupted UNLOAD is emptied first, because UNLOAD requires an empty target.
    """
    prefix = delivery_prefix(config, billing_period, delivery_id)
    keys = _list_keys(s3_client, config.bucket, prefix)
    if prefix + MARKER in keys:
        accounts = _accounts_of(keys)
        log.info(
            "Reusing the period_account copy of %s for %s (%d accounts)",
            delivery_id,
            billing_period,
            len(accounts),
        )
        return accounts
    for key in keys:
        s3_client.delete_object(Bucket=config.bucket, Key=key)
    if keys:
        log.info("Removed %d objects of an interrupted copy of %s", len(keys), delivery_id)

    table = glue_client.get_table(DatabaseName=config.database, Name=config.current_table)["Table"]
    columns = [column["Name"].lower() for column in table["StorageDescriptor"]["Columns"]]
    query_id = athena_client.start_query_execution(
        QueryString=build_unload_sql(config, billing_period, delivery_id, columns),
        QueryExecutionContext={"Database": config.database},
        WorkGroup=config.workgroup,
        ResultConfiguration={"OutputLocation": config.athena_output},
    )["QueryExecutionId"]
    execution = _wait_for_query(athena_client, query_id, config.poll_seconds)
    if execution["Status"]["State"] != "SUCCEEDED":
        reason = execution["Status"].get("StateChangeReason", "no reason given")
        raise LayoutError(
            f"UNLOAD of delivery {delivery_id} ({billing_period}) into the period_account layout "
            f"failed (query {query_id}): {reason}"
        )
    accounts = _accounts_of(_list_keys(s3_client, config.bucket, prefix))
    s3_client.put_object(Bucket=config.bucket, Key=prefix + MARKER, Body=b"")
    log.info(
        "Wrote the period_account copy of %s for %s: %d accounts, %d bytes scanned (query %s)",
        delivery_id,
        billing_period,
        len(accounts),
        execution["Statistics"].get("DataScannedInBytes", 0),
        query_id,
    )
    return accounts


def ensure_by_account_table(glue_client: Any, config: PipelineConfig) -> None:
    """Create focus_current_by_account with focus_current's columns when it does not exist."""
    try:
        glue_client.get_table(DatabaseName=config.database, Name=config.current_by_account_table)
        return
    except glue_client.exceptions.EntityNotFoundException:
        pass
    current = glue_client.get_table(DatabaseName=config.database, Name=config.current_table)["Table"]
    storage = copy.deepcopy(current["StorageDescriptor"])
    storage["Location"] = f"s3://{config.bucket}/{config.by_account_prefix.strip('/')}/"
    glue_client.create_table(
        DatabaseName=config.database,
        TableInput={
            "Name": config.current_by_account_table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": dict(current.get("Parameters", {})),
            "PartitionKeys": [
                {"Name": "billing_period", "Type": "string"},
                {"Name": ACCOUNT_KEY, "Type": "string"},
            ],
            "StorageDescriptor": storage,
        },
    )
    log.info("Created table %s.%s", config.database, config.current_by_account_table)


def _period_partitions(glue_client: Any, config: PipelineConfig, billing_period: str) -> dict[str, Any]:
    partitions = {}
    paginator = glue_client.get_paginator("get_partitions")
    for page in paginator.paginate(
        DatabaseName=config.database,
        TableName=config.current_by_account_table,
        Expression=f"billing_period = '{billing_period}'",
    ):
        for partition in page["Partitions"]:
            partitions[partition["Values"][1]] = partition
    return partitions


def promote_by_account(
    glue_client: Any,
    config: PipelineConfig,
    *,
    billing_period: str,
    delivery_id: str,
    accounts: list[str],
) -> dict[str, int]:
    """Point every focus_current_by_account partition of the period at the delivery in one call.

    Returns how many partitions were created (empty) and updated. Raises LayoutError when the
    period would hold more than ``MAX_ACCOUNTS_PER_PERIOD`` partitions or when Glue reports an
    entry it could not update.
    """
    ensure_by_account_table(glue_client, config)
    table = glue_client.get_table(DatabaseName=config.database, Name=config.current_by_account_table)["Table"]
    existing = _period_partitions(glue_client, config, billing_period)
    keys = sorted(set(existing) | set(accounts))
    if len(keys) > MAX_ACCOUNTS_PER_PERIOD:
        raise LayoutError(
            f"Billing period {billing_period} would have {len(keys)} account partitions; the "
            f"period_account layout swaps at most {MAX_ACCOUNTS_PER_PERIOD} in one call. Use "
            "current_layout 'period' for this organisation."
        )

    def partition_input(account: str, location: str) -> dict[str, Any]:
        storage = copy.deepcopy(table["StorageDescriptor"])
        storage["Location"] = location
        return {
            "Values": [billing_period, account],
            "StorageDescriptor": storage,
            "Parameters": {"delivery_id": delivery_id},
        }

    empty = empty_location(config)
    created = [account for account in keys if account not in existing]
    for start in range(0, len(created), MAX_ACCOUNTS_PER_PERIOD):
        response = glue_client.batch_create_partition(
            DatabaseName=config.database,
            TableName=config.current_by_account_table,
            PartitionInputList=[
                partition_input(account, empty)
                for account in created[start : start + MAX_ACCOUNTS_PER_PERIOD]
            ],
        )
        errors = [
            e for e in response.get("Errors", []) if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"
        ]
        if errors:
            raise LayoutError(f"Creating the account partitions of {billing_period} failed: {errors}")

    prefix = f"s3://{config.bucket}/{delivery_prefix(config, billing_period, delivery_id)}"
    wanted = set(accounts)
    entries = [
        {
            "PartitionValueList": [billing_period, account],
            "PartitionInput": partition_input(
                account, f"{prefix}{ACCOUNT_KEY}={account}/" if account in wanted else empty
            ),
        }
        for account in keys
    ]
    response = glue_client.batch_update_partition(
        DatabaseName=config.database, TableName=config.current_by_account_table, Entries=entries
    )
    if response.get("Errors"):
        raise LayoutError(
            f"Glue could not update {len(response['Errors'])} of {len(entries)} account partitions of "
            f"{billing_period}, so readers may see two deliveries; rerun the task to finish the swap. "
            f"First error: {response['Errors'][0]}"
        )
    log.info(
        "Promoted %s for %s in the period_account layout: %d account partitions (%d new)",
        delivery_id,
        billing_period,
        len(entries),
        len(created),
    )
    return {"created": len(created), "updated": len(entries)}
