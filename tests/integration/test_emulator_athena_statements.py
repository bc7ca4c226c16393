"""Athena statements in the emulator beyond SELECT: UNLOAD, CTAS, DDL, limits, cancel and latency."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from tests.integration.test_emulator_aws import parquet_bytes, run_query

pytestmark = pytest.mark.integration

SLOW_QUERY = (
    "SELECT count(*) FROM UNNEST(sequence(1, 300000)) AS a(x) "
    "CROSS JOIN UNNEST(sequence(1, 300000)) AS b(y) WHERE (x * y) % 7 = 3"
)


def result_rows(aws, execution: dict) -> list[list[str | None]]:
    response = aws.client("athena").get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    return [[cell.get("VarCharValue") for cell in row["Data"]] for row in response["ResultSet"]["Rows"]]


def succeeded(aws, sql: str, **kwargs) -> dict:
    execution = run_query(aws, sql, **kwargs)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"].get("StateChangeReason")
    return execution


def list_keys(aws, bucket: str, prefix: str) -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def read_parquet(aws, bucket: str, key: str) -> pq.ParquetFile:
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.ParquetFile(io.BytesIO(body))


def put_costs(aws, prefix: str) -> str:
    """Put two Parquet files of costs under ``prefix`` (one per billing period folder)."""
    s3 = aws.client("s3")
    for period, costs in (("2026-03", [1.0, 2.0]), ("2026-04", [4.0, 8.0, 16.0])):
        table = pa.table(
            {
                "BilledCost": pa.array(costs, pa.float64()),
                "ChargePeriodStart": pa.array(
                    [dt.datetime.fromisoformat(f"{period}-01T00:00:00.123456")] * len(costs),
                    pa.timestamp("us"),
                ),
                "Amount": pa.array([decimal.Decimal("12.34")] * len(costs), pa.decimal128(18, 2)),
            }
        )
        key = f"{prefix}billing_period={period}/part-0.parquet"
        s3.put_object(Bucket=aws.config.bucket, Key=key, Body=parquet_bytes(table))
    return f"s3://{aws.config.bucket}/{prefix}"


def create_costs_table(aws, name: str = "costs") -> None:
    location = put_costs(aws, f"raw/{name}/")
    succeeded(
        aws,
        f"CREATE EXTERNAL TABLE {name} (billedcost double, chargeperiodstart timestamp, "
        "amount decimal(18,2))\nPARTITIONED BY (billing_period string)\n"
        f"STORED AS PARQUET\nLOCATION '{location}'",
    )
    succeeded(aws, f"MSCK REPAIR TABLE {name}")


def test_create_external_table_then_select(aws) -> None:
    location = put_costs(aws, "raw/flat/") + "billing_period=2026-04/"
    succeeded(
        aws,
        "CREATE EXTERNAL TABLE flat (`billedcost` double, `amount` decimal(18,2), "
        f"`tags` map<string,string>)\nSTORED AS PARQUET\nLOCATION '{location}'",
    )
    table = aws.client("glue").get_table(DatabaseName=aws.config.database, Name="flat")["Table"]
    types = [column["Type"] for column in table["StorageDescriptor"]["Columns"]]
    assert types == ["double", "decimal(18,2)", "map<string,string>"]
    rows = result_rows(aws, succeeded(aws, "SELECT sum(billedcost), max(amount), count(tags) FROM flat"))
    assert rows[1] == ["28.0", "12.34", "0"]


def test_msck_repair_and_show_partitions(aws) -> None:
    create_costs_table(aws)
    partitions = result_rows(aws, succeeded(aws, "SHOW PARTITIONS costs"))
    assert partitions == [["billing_period=2026-03"], ["billing_period=2026-04"]]
    rows = result_rows(
        aws, succeeded(aws, "SELECT billing_period, count(*) FROM costs GROUP BY 1 ORDER BY 1")
    )
    assert rows[1:] == [["2026-03", "2"], ["2026-04", "3"]]


def test_describe_lists_columns_and_keys(aws) -> None:
    create_costs_table(aws)
    rows = result_rows(aws, succeeded(aws, "DESCRIBE costs"))
    assert rows == [
        ["billedcost\tdouble"],
        ["chargeperiodstart\ttimestamp"],
        ["amount\tdecimal(18,2)"],
        ["billing_period\tstring"],
    ]


def test_alter_table_partition_and_location(aws) -> None:
    create_costs_table(aws)
    succeeded(aws, "ALTER TABLE costs DROP PARTITION (billing_period='2026-03')")
    assert result_rows(aws, succeeded(aws, "SHOW PARTITIONS costs")) == [["billing_period=2026-04"]]
    moved = f"s3://{aws.config.bucket}/raw/costs/billing_period=2026-03/"
    succeeded(aws, f"ALTER TABLE costs ADD PARTITION (billing_period='2026-05') LOCATION '{moved}'")
    rows = result_rows(aws, succeed_count(aws, "2026-05"))
    assert rows[1] == ["2"]
    succeeded(
        aws,
        "ALTER TABLE costs PARTITION (billing_period='2026-05') "
        f"SET LOCATION 's3://{aws.config.bucket}/raw/costs/billing_period=2026-04/'",
    )
    assert result_rows(aws, succeed_count(aws, "2026-05"))[1] == ["3"]
    succeeded(aws, f"ALTER TABLE costs SET LOCATION 's3://{aws.config.bucket}/elsewhere/'")
    table = aws.client("glue").get_table(DatabaseName=aws.config.database, Name="costs")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{aws.config.bucket}/elsewhere/"


def succeed_count(aws, period: str) -> dict:
    return succeeded(aws, f"SELECT count(*) FROM costs WHERE billing_period = '{period}'")


def test_drop_table_keeps_data(aws) -> None:
    create_costs_table(aws)
    succeeded(aws, "DROP TABLE costs")
    with pytest.raises(ClientError, match="EntityNotFoundException"):
        aws.client("glue").get_table(DatabaseName=aws.config.database, Name="costs")
    assert len(list_keys(aws, aws.config.bucket, "raw/costs/")) == 2
    succeeded(aws, "DROP TABLE IF EXISTS costs")
    missing = run_query(aws, "DROP TABLE costs")
    assert missing["Status"]["State"] == "FAILED"
    assert "TABLE_NOT_FOUND" in missing["Status"]["StateChangeReason"]


def test_unload_writes_athena_parquet(aws) -> None:
    target = f"s3://{aws.config.bucket}/unloaded/"
    execution = succeeded(
        aws,
        "UNLOAD (SELECT TIMESTAMP '2026-04-01 10:00:00.123' AS \"ChargePeriodStart\", "
        "MAP(ARRAY['team'], ARRAY['core']) AS tags, CAST(1.5 AS double) AS cost)\n"
        f"TO '{target}'\nWITH (format = 'PARQUET', compression = 'SNAPPY')",
    )
    keys = list_keys(aws, aws.config.bucket, "unloaded/")
    assert len(keys) == 1
    assert "." not in keys[0].rsplit("/", 1)[-1]
    parquet = read_parquet(aws, aws.config.bucket, keys[0])
    schema = parquet.schema_arrow
    assert schema.names == ["chargeperiodstart", "tags", "cost"]
    assert schema.field("chargeperiodstart").type == pa.timestamp("ms")
    assert schema.field("tags").type == pa.map_(pa.string(), pa.string())
    assert schema.field("cost").type == pa.float64()
    assert parquet.metadata.row_group(0).column(0).compression == "SNAPPY"
    row = parquet.read().to_pylist()[0]
    assert row["chargeperiodstart"].isoformat() == "2026-04-01T10:00:00.123000"
    assert row["tags"] == [("team", "core")]
    manifest_key = f"{aws.config.athena_output.split('/', 3)[3]}{execution['QueryExecutionId']}-manifest.csv"
    manifest = aws.client("s3").get_object(Bucket=aws.config.bucket, Key=manifest_key)["Body"].read()
    assert manifest.decode() == f"s3://{aws.config.bucket}/{keys[0]}\n"


def test_unload_truncates_microseconds(aws) -> None:
    create_costs_table(aws)
    target = f"s3://{aws.config.bucket}/unloaded-costs/"
    succeeded(
        aws,
        f"UNLOAD (SELECT chargeperiodstart FROM costs WHERE billing_period = '2026-03') TO '{target}' "
        "WITH (format = 'PARQUET', compression = 'SNAPPY')",
    )
    (key,) = list_keys(aws, aws.config.bucket, "unloaded-costs/")
    values = read_parquet(aws, aws.config.bucket, key).read().column("chargeperiodstart").to_pylist()
    assert [value.isoformat() for value in values] == ["2026-03-01T00:00:00.123000"] * 2


def test_unload_into_non_empty_prefix_fails(aws) -> None:
    aws.client("s3").put_object(Bucket=aws.config.bucket, Key="unloaded/existing", Body=b"x")
    execution = run_query(
        aws,
        f"UNLOAD (SELECT 1 AS one) TO 's3://{aws.config.bucket}/unloaded/' "
        "WITH (format = 'PARQUET', compression = 'SNAPPY')",
    )
    assert execution["Status"]["State"] == "FAILED"
    assert execution["Status"]["StateChangeReason"].startswith("HIVE_PATH_ALREADY_EXISTS")
    assert list_keys(aws, aws.config.bucket, "unloaded/") == ["unloaded/existing"]


def test_ctas_writes_partitions_and_registers(aws) -> None:
    create_costs_table(aws)
    location = f"s3://{aws.config.bucket}/ctas/monthly/"
    execution = succeeded(
        aws,
        "CREATE TABLE focus_billing.monthly WITH (format = 'PARQUET', "
        f"external_location = '{location}', partitioned_by = ARRAY['billing_period']) AS "
        "SELECT sum(billedcost) AS cost, max(chargeperiodstart) AS latest, billing_period "
        "FROM costs GROUP BY billing_period",
    )
    assert execution["StatementType"] == "DDL"
    keys = list_keys(aws, aws.config.bucket, "ctas/monthly/")
    assert [key.split("/")[2] for key in keys] == ["billing_period=2026-03", "billing_period=2026-04"]
    glue = aws.client("glue")
    table = glue.get_table(DatabaseName=aws.config.database, Name="monthly")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("cost", "double"),
        ("latest", "timestamp"),
    ]
    assert [key["Name"] for key in table["PartitionKeys"]] == ["billing_period"]
    partitions = glue.get_partitions(DatabaseName=aws.config.database, TableName="monthly")["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == ["2026-03", "2026-04"]
    file_columns = read_parquet(aws, aws.config.bucket, keys[0]).schema_arrow
    assert file_columns.names == ["cost", "latest"]
    assert file_columns.field("latest").type == pa.timestamp("ms")
    rows = result_rows(aws, succeeded(aws, "SELECT billing_period, cost FROM monthly ORDER BY 1"))
    assert rows[1:] == [["2026-03", "3.0"], ["2026-04", "28.0"]]


def test_ctas_partition_key_not_last_fails(aws) -> None:
    create_costs_table(aws)
    execution = run_query(
        aws,
        "CREATE TABLE wrong WITH (format = 'PARQUET', partitioned_by = ARRAY['billing_period']) AS "
        "SELECT billing_period, billedcost FROM costs",
    )
    assert execution["Status"]["State"] == "FAILED"
    assert execution["Status"]["StateChangeReason"].startswith("HIVE_COLUMN_ORDER_MISMATCH")


def test_ctas_default_location_under_results(aws) -> None:
    succeeded(aws, "CREATE TABLE plain AS SELECT 1 AS one")
    table = aws.client("glue").get_table(DatabaseName=aws.config.database, Name="plain")["Table"]
    assert table["StorageDescriptor"]["Location"].startswith(aws.config.athena_output + "tables/")
    assert result_rows(aws, succeeded(aws, "SELECT one FROM plain"))[1] == ["1"]


def test_bytes_scanned_cutoff_cancels(aws) -> None:
    # 1.5 million uncompressed doubles scan 12 MB, over the minimum cutoff Athena accepts (10 MB).
    table = pa.table({"billedcost": pa.array(range(1_500_000), pa.float64())})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="none", use_dictionary=False)
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.config.bucket, Key="big/part-0", Body=sink.getvalue().to_pybytes())
    succeeded(
        aws,
        f"CREATE EXTERNAL TABLE big (billedcost double) STORED AS PARQUET "
        f"LOCATION 's3://{aws.config.bucket}/big/'",
    )
    aws.client("athena").create_work_group(
        Name="capped",
        Configuration={
            "ResultConfiguration": {"OutputLocation": aws.config.athena_output},
            "EnforceWorkGroupConfiguration": True,
            "BytesScannedCutoffPerQuery": 10_000_000,
        },
    )
    execution = run_query(aws, "SELECT sum(billedcost) FROM big", WorkGroup="capped")
    assert execution["Status"]["State"] == "CANCELLED"
    assert execution["Status"]["StateChangeReason"] == "Query cancelled! : Bytes scanned limit was exceeded"
    target = f"s3://{aws.config.bucket}/capped/"
    unload = run_query(
        aws, f"UNLOAD (SELECT * FROM big) TO '{target}' WITH (format = 'PARQUET')", WorkGroup="capped"
    )
    assert unload["Status"]["State"] == "CANCELLED"
    assert list_keys(aws, aws.config.bucket, "capped/") == []
    assert run_query(aws, "SELECT count(*) FROM big")["Status"]["State"] == "SUCCEEDED"


def test_stop_interrupts_slow_query(aws) -> None:
    athena = aws.client("athena")
    query_id = athena.start_query_execution(QueryString=SLOW_QUERY, WorkGroup=aws.config.workgroup)[
        "QueryExecutionId"
    ]
    status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
    assert status["State"] == "RUNNING"
    athena.stop_query_execution(QueryExecutionId=query_id)
    status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
    assert status["State"] == "CANCELLED"
    assert status["StateChangeReason"] == "Query cancelled by user"
    deadline = time.monotonic() + 5
    while any(thread.name == f"athena-{query_id}" for thread in threading.enumerate()):
        assert time.monotonic() < deadline, "DuckDB kept running the cancelled query"
        time.sleep(0.05)
    with pytest.raises(ClientError, match="CANCELLED"):
        athena.get_query_results(QueryExecutionId=query_id)


def test_runtime_statistics(aws) -> None:
    execution = succeeded(aws, "SELECT x FROM UNNEST(sequence(1, 25)) AS t(x)")
    statistics = aws.client("athena").get_query_runtime_statistics(
        QueryExecutionId=execution["QueryExecutionId"]
    )["QueryRuntimeStatistics"]
    assert statistics["Rows"]["OutputRows"] == 25
    assert statistics["Timeline"]["EngineExecutionTimeInMillis"] >= 0


def test_pyathena_default_poll_is_fast(aws) -> None:
    """A small query finishes on the first status request, so PyAthena's 1 s poll never sleeps."""
    from pyathena import connect

    cursor = connect(
        s3_staging_dir=aws.config.athena_output,
        region_name=aws.config.region_name,
        endpoint_url=aws.endpoint_url,
        work_group=aws.config.workgroup,
        schema_name=aws.config.database,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        poll_interval=1,
    ).cursor()
    started = time.monotonic()
    for value in range(5):
        cursor.execute(f"SELECT {value} AS n")
        assert cursor.fetchall() == [(value,)]
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"5 trivial queries took {elapsed:.2f} s"
