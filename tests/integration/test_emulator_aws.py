"""The emulator through real clients: boto3, the Amazon provider operators and PyAthena."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def put_snapshot(aws, period: str, table: pa.Table, delivery: str = "d1") -> None:
    key = f"{aws.config.snapshots_prefix}/billing_period={period}/delivery={delivery}/part-0.parquet"
    aws.client("s3").put_object(Bucket=aws.config.bucket, Key=key, Body=parquet_bytes(table))


def sample(rows: int = 2, extra: dict | None = None) -> pa.Table:
    columns = {
        "BilledCost": [1.5 * (i + 1) for i in range(rows)],
        "RegionId": ["us-east-1" if i % 2 == 0 else "eu-west-1" for i in range(rows)],
        "SubAccountId": ["012345678901"] * rows,
    }
    columns.update(extra or {})
    return pa.table(columns)


def crawl(aws) -> dict:
    glue = aws.client("glue")
    glue.start_crawler(Name=aws.config.crawler_name)
    for _ in range(100):
        crawler = glue.get_crawler(Name=aws.config.crawler_name)["Crawler"]
        if crawler["State"] == "READY":
            return crawler
        time.sleep(0.05)
    raise AssertionError("crawler did not finish within 5 seconds")


def run_query(aws, sql: str, **kwargs) -> dict:
    athena = aws.client("athena")
    kwargs.setdefault("WorkGroup", aws.config.workgroup)
    query_id = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": aws.config.database}, **kwargs
    )["QueryExecutionId"]
    for _ in range(200):
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
            return execution
        time.sleep(0.02)
    raise AssertionError(f"query {query_id} did not finish")


def table_columns(aws, name: str) -> dict[str, dict]:
    table = aws.client("glue").get_table(DatabaseName=aws.config.database, Name=name)["Table"]
    return {column["Name"]: column for column in table["StorageDescriptor"]["Columns"]}


def test_provision_idempotent(aws) -> None:
    from focus_emulator.provision import provision

    again = provision(aws.endpoint_url, aws.config)
    assert again["queue_url"] == aws.resources["queue_url"]


def test_crawl_creates_partitioned_table(aws) -> None:
    put_snapshot(aws, "2026-03", sample())
    put_snapshot(aws, "2026-04", sample())
    crawler = crawl(aws)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    glue = aws.client("glue")
    table = glue.get_table(DatabaseName=aws.config.database, Name="focus_snapshots")["Table"]
    assert [key["Name"] for key in table["PartitionKeys"]] == ["billing_period", "delivery"]
    assert table_columns(aws, "focus_snapshots")["billedcost"]["Type"] == "double"
    partitions = glue.get_partitions(DatabaseName=aws.config.database, TableName="focus_snapshots")
    assert len(partitions["Partitions"]) == 2
    metrics = glue.get_crawler_metrics(CrawlerNameList=[aws.config.crawler_name])["CrawlerMetricsList"]
    assert metrics[0]["TablesCreated"] == 1


def test_crawler_rejects_second_start(aws) -> None:
    put_snapshot(aws, "2026-04", sample())
    glue = aws.client("glue")
    glue.start_crawler(Name=aws.config.crawler_name)
    assert glue.get_crawler(Name=aws.config.crawler_name)["Crawler"]["State"] == "RUNNING"
    with pytest.raises(ClientError, match="CrawlerRunningException"):
        glue.start_crawler(Name=aws.config.crawler_name)
    for _ in range(100):
        if glue.get_crawler(Name=aws.config.crawler_name)["Crawler"]["State"] == "READY":
            break
        time.sleep(0.05)
    assert crawl(aws)["LastCrawl"]["Status"] == "SUCCEEDED"


def test_crawl_honours_exclusions(aws) -> None:
    s3 = aws.client("s3")
    prefix = aws.config.snapshots_prefix
    put_snapshot(aws, "2026-04", sample())
    s3.put_object(Bucket=aws.config.bucket, Key=f"{prefix}/metadata/focus-export-Manifest.json", Body=b"{}")
    s3.put_object(Bucket=aws.config.bucket, Key=f"{prefix}/aws-programmatic-access-test-object", Body=b"x")
    s3.put_object(Bucket=aws.config.bucket, Key=f"{prefix}/_SUCCESS", Body=b"")
    crawl(aws)
    tables = aws.client("glue").get_tables(DatabaseName=aws.config.database)["TableList"]
    crawled = sorted(t["Name"] for t in tables if t.get("Parameters", {}).get("UPDATED_BY_CRAWLER"))
    assert crawled == ["focus_snapshots"]


def test_crawl_schema_change_policy(aws) -> None:
    put_snapshot(aws, "2026-04", sample())
    crawl(aws)
    aws.client("s3").delete_object(
        Bucket=aws.config.bucket,
        Key=f"{aws.config.snapshots_prefix}/billing_period=2026-04/delivery=d1/part-0.parquet",
    )
    put_snapshot(aws, "2026-05", sample(extra={"x_NewThing": ["a", "b"]}).drop_columns(["RegionId"]))
    crawl(aws)
    columns = table_columns(aws, "focus_snapshots")
    assert "x_newthing" in columns
    assert columns["regionid"]["Parameters"] == {"deprecated": "true"}


def test_athena_select_where_group_by(aws) -> None:
    put_snapshot(aws, "2026-04", sample(4))
    crawl(aws)
    execution = run_query(
        aws,
        "SELECT regionid, sum(billedcost) AS cost FROM focus_snapshots "
        "WHERE billing_period = '2026-04' GROUP BY regionid ORDER BY regionid",
    )
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(aws.config.athena_output)
    rows = aws.client("athena").get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    values = [[d.get("VarCharValue") for d in row["Data"]] for row in rows["ResultSet"]["Rows"]]
    assert values == [["regionid", "cost"], ["eu-west-1", "9.0"], ["us-east-1", "6.0"]]
    types = [c["Type"] for c in rows["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
    assert types == ["varchar", "double"]


def test_athena_failure_reasons(aws) -> None:
    missing = run_query(aws, "SELECT * FROM nope")
    assert missing["Status"]["State"] == "FAILED"
    assert "TABLE_NOT_FOUND" in missing["Status"]["StateChangeReason"]
    assert "focus_billing.nope" in missing["Status"]["StateChangeReason"]
    syntax = run_query(aws, "SELEC 1")
    assert syntax["Status"]["StateChangeReason"].startswith("SYNTAX_ERROR")


def test_athena_cancel(aws) -> None:
    athena = aws.client("athena")
    query_id = athena.start_query_execution(QueryString="SELECT 1", WorkGroup=aws.config.workgroup)[
        "QueryExecutionId"
    ]
    athena.stop_query_execution(QueryExecutionId=query_id)
    time.sleep(0.2)
    state = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
    assert state in ("CANCELLED", "SUCCEEDED")


def test_workgroup_enforced_output_location(aws) -> None:
    execution = run_query(aws, "SELECT 1 AS one", ResultConfiguration={"OutputLocation": "s3://elsewhere/x/"})
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location.startswith(aws.config.athena_output)
    bucket, key = location[len("s3://") :].split("/", 1)
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert body == '"one"\n"1"\n'


def test_missing_output_location_rejected(aws) -> None:
    athena = aws.client("athena")
    athena.create_work_group(Name="bare", Configuration={"EnforceWorkGroupConfiguration": False})
    with pytest.raises(ClientError, match="No output location provided"):
        athena.start_query_execution(QueryString="SELECT 1", WorkGroup="bare")


def test_results_paging_over_1000_rows(aws) -> None:
    execution = run_query(aws, "SELECT x FROM UNNEST(sequence(1, 2500)) AS t(x)")
    paginator = aws.client("athena").get_paginator("get_query_results")
    pages = list(paginator.paginate(QueryExecutionId=execution["QueryExecutionId"]))
    rows = [row for page in pages for row in page["ResultSet"]["Rows"]]
    assert len(pages) == 3
    assert len(rows) == 2501


def test_bytes_scanned_reflects_pruning(aws) -> None:
    put_snapshot(aws, "2026-03", sample(50))
    put_snapshot(aws, "2026-04", sample(50))
    crawl(aws)
    everything = run_query(aws, "SELECT * FROM focus_snapshots")["Statistics"]["DataScannedInBytes"]
    one_column = run_query(aws, "SELECT billedcost FROM focus_snapshots")["Statistics"]["DataScannedInBytes"]
    one_period = run_query(aws, "SELECT * FROM focus_snapshots WHERE billing_period = '2026-04'")[
        "Statistics"
    ]["DataScannedInBytes"]
    assert 0 < one_column < everything
    assert 0 < one_period < everything


def test_ddl_add_partition_then_select(aws) -> None:
    put_snapshot(aws, "2026-04", sample())
    location = f"s3://{aws.config.bucket}/{aws.config.snapshots_prefix}/billing_period=2026-04/delivery=d1/"
    added = run_query(
        aws,
        "ALTER TABLE focus_current ADD IF NOT EXISTS PARTITION (billing_period='2026-04') "
        f"LOCATION '{location}'",
    )
    assert added["Status"]["State"] == "SUCCEEDED"
    counted = run_query(aws, "SELECT count(*), sum(billedcost) FROM focus_current")
    rows = aws.client("athena").get_query_results(QueryExecutionId=counted["QueryExecutionId"])
    assert [d["VarCharValue"] for d in rows["ResultSet"]["Rows"][1]["Data"]] == ["2", "4.5"]


def test_glue_crawler_operator_already_running(aws) -> None:
    from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerOperator

    put_snapshot(aws, "2026-04", sample())
    aws.client("glue").start_crawler(Name=aws.config.crawler_name)
    operator = GlueCrawlerOperator(
        task_id="operator",
        config={"Name": aws.config.crawler_name},
        poll_interval=1,
        fail_on_already_running=False,
    )
    assert operator.execute(context={}) == aws.config.crawler_name
    state = aws.client("glue").get_crawler(Name=aws.config.crawler_name)["Crawler"]
    assert state["State"] == "READY"


def test_athena_operator_and_hook(aws) -> None:
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook
    from airflow.providers.amazon.aws.operators.athena import AthenaOperator

    operator = AthenaOperator(
        task_id="operator",
        query="SELECT 'a' AS name, 2 AS n",
        database=aws.config.database,
        workgroup=aws.config.workgroup,
        output_location="s3://ignored/",
        sleep_time=1,
    )
    query_id = operator.execute(context={})
    result = AthenaHook().get_query_results(query_id)
    assert [d["VarCharValue"] for d in result["ResultSet"]["Rows"][1]["Data"]] == ["a", "2"]


def test_pyathena_sqlalchemy(aws) -> None:
    import sqlalchemy

    put_snapshot(aws, "2026-04", sample(4))
    crawl(aws)
    url = (
        f"awsathena+rest://testing:testing@athena.us-east-1.amazonaws.com:443/{aws.config.database}"
        f"?endpoint_url={aws.endpoint_url}&s3_staging_dir={aws.config.athena_output}"
        f"&work_group={aws.config.workgroup}&poll_interval=0.05"
    )
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sqlalchemy.text(
                "SELECT regionid, count(*) AS n FROM focus_snapshots WHERE billedcost > 1 "
                "GROUP BY regionid ORDER BY regionid"
            )
        ).fetchall()
    assert [tuple(row) for row in rows] == [("eu-west-1", 2), ("us-east-1", 2)]


def test_sns_publish_reaches_queue(aws) -> None:
    from airflow.providers.amazon.aws.operators.sns import SnsPublishOperator

    SnsPublishOperator(task_id="n", target_arn=aws.config.topic_arn, message="3 findings").execute(context={})
    messages = aws.client("sqs").receive_message(QueueUrl=aws.resources["queue_url"], WaitTimeSeconds=1)
    body = json.loads(messages["Messages"][0]["Body"])
    assert body["Message"] == "3 findings"


def test_s3_key_sensor_wildcard(aws) -> None:
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    sensor = S3KeySensor(
        task_id="s",
        bucket_name=aws.config.export_bucket,
        bucket_key="exports/focus-export/data/*/*.parquet",
        wildcard_match=True,
    )
    assert sensor.poke(context={}) is False
    aws.client("s3").put_object(
        Bucket=aws.config.export_bucket,
        Key="exports/focus-export/data/BILLING_PERIOD=2026-04/part-0.parquet",
        Body=parquet_bytes(sample()),
    )
    assert sensor.poke(context={}) is True
