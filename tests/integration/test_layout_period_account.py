"""The period_account layout against the emulator: UNLOAD by account, and what a reader of
focus_current_by_account sees at each step of the swap from one delivery to the next."""

from __future__ import annotations

import dataclasses
import time

import pytest
from tests.integration.focus_rows import focus_row, focus_table, parquet_bytes

from focus_pipeline import layout

pytestmark = pytest.mark.integration

PERIOD = "2026-04"


def stage(aws, delivery: str, accounts: dict[str, float]) -> None:
    """Stage one delivery whose rows bill ``cost`` for each account id."""
    rows = [
        focus_row(index, SubAccountId=account, BilledCost=cost)
        for index, (account, cost) in enumerate(accounts.items())
    ]
    key = f"{aws.config.snapshots_prefix}/billing_period={PERIOD}/delivery={delivery}/part-00000.parquet"
    aws.client("s3").put_object(Bucket=aws.config.bucket, Key=key, Body=parquet_bytes(focus_table(rows)))


def crawl(aws) -> None:
    glue = aws.client("glue")
    glue.start_crawler(Name=aws.config.crawler_name)
    for _ in range(200):
        if glue.get_crawler(Name=aws.config.crawler_name)["Crawler"]["State"] == "READY":
            return
        time.sleep(0.05)
    raise AssertionError("crawler did not finish within 10 seconds")


def read_costs(aws, config) -> dict[str, float]:
    """Return SUM(billedcost) per account of the period as a reader of the table sees it."""
    athena = aws.client("athena")
    query_id = athena.start_query_execution(
        QueryString=(
            "SELECT sub_account, sum(billedcost) AS cost "
            f"FROM {config.database}.{config.current_by_account_table} "
            f"WHERE billing_period = '{PERIOD}' GROUP BY sub_account"
        ),
        QueryExecutionContext={"Database": config.database},
        WorkGroup=config.workgroup,
        ResultConfiguration={"OutputLocation": config.athena_output},
    )["QueryExecutionId"]
    for _ in range(400):
        state = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.05)
    assert state == "SUCCEEDED"
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"][1:]
    return {row["Data"][0]["VarCharValue"]: float(row["Data"][1]["VarCharValue"]) for row in rows}


def copy_delivery(aws, config, delivery: str) -> list[str]:
    return layout.repartition_snapshot(
        config,
        athena_client=aws.client("athena"),
        s3_client=aws.client("s3"),
        glue_client=aws.client("glue"),
        billing_period=PERIOD,
        delivery_id=delivery,
    )


def test_unload_writes_one_folder_per_account(aws):
    config = dataclasses.replace(aws.config, current_layout=layout.PERIOD_ACCOUNT, poll_seconds=0.05)
    stage(aws, "d1", {"111111111111": 1.0, "222222222222": 2.0})
    crawl(aws)

    accounts = copy_delivery(aws, config, "d1")
    again = copy_delivery(aws, config, "d1")

    assert accounts == ["111111111111", "222222222222"]
    assert again == accounts
    keys = [
        item["Key"]
        for item in aws.client("s3").list_objects_v2(Bucket=config.bucket, Prefix=config.by_account_prefix)[
            "Contents"
        ]
    ]
    assert not any(key.startswith(config.snapshots_prefix) for key in keys)
    assert sum("/sub_account=111111111111/" in key for key in keys) == 1


def test_reader_never_sees_two_deliveries(aws):
    config = dataclasses.replace(aws.config, current_layout=layout.PERIOD_ACCOUNT, poll_seconds=0.05)
    first = {"111111111111": 1.0, "222222222222": 2.0}
    # The second delivery drops one account, adds one and restates another.
    second = {"222222222222": 5.0, "333333333333": 7.0}
    stage(aws, "d1", first)
    stage(aws, "d2", second)
    crawl(aws)
    glue = aws.client("glue")
    layout.promote_by_account(
        glue, config, billing_period=PERIOD, delivery_id="d1", accounts=copy_delivery(aws, config, "d1")
    )
    assert read_costs(aws, config) == first
    accounts = copy_delivery(aws, config, "d2")

    # Step 1 of the swap alone: the new account's partition exists but is empty.
    table = glue.get_table(DatabaseName=config.database, Name=config.current_by_account_table)["Table"]
    storage = dict(table["StorageDescriptor"], Location=layout.empty_location(config))
    glue.batch_create_partition(
        DatabaseName=config.database,
        TableName=config.current_by_account_table,
        PartitionInputList=[{"Values": [PERIOD, "333333333333"], "StorageDescriptor": storage}],
    )
    assert read_costs(aws, config) == first

    result = layout.promote_by_account(
        glue, config, billing_period=PERIOD, delivery_id="d2", accounts=accounts
    )

    assert result == {"created": 0, "updated": 3}
    assert read_costs(aws, config) == second


def test_too_many_accounts_is_rejected(aws):
    config = dataclasses.replace(aws.config, current_layout=layout.PERIOD_ACCOUNT)
    accounts = [f"{number:012d}" for number in range(layout.MAX_ACCOUNTS_PER_PERIOD + 1)]
    with pytest.raises(layout.LayoutError, match="at most 100"):
        layout.promote_by_account(
            aws.client("glue"), config, billing_period=PERIOD, delivery_id="d1", accounts=accounts
        )


def test_unknown_layout_is_invalid(aws):
    config = dataclasses.replace(aws.config, current_layout="account")
    with pytest.raises(ValueError, match="current_layout 'account' is invalid"):
        layout.check_layout(config)
