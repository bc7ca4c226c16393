"""Land export deliveries in the emulated S3 and run the delivery DAG on them with ``dag.test()``."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from tests.integration.focus_rows import parquet_bytes

EXPORT_ARN = "arn:aws:bcm-data-exports:us-east-1:123456789012:export/focus-export"


def land_delivery(
    aws: Any,
    table: pa.Table | list[pa.Table],
    billing_period: str,
    *,
    execution_id: str | None = None,
    mode: str = "OVERWRITE_REPORT",
    partition_key: str = "BILLING_PERIOD",
    delivered_at: datetime | None = None,
    write_manifest: bool = True,
    extra_manifest_files: list[str] | None = None,
) -> dict[str, Any]:
    """Write a delivery in the Data Exports layout, data files first and the manifest last."""
    config = aws.config
    s3 = aws.client("s3")
    execution_id = execution_id or str(uuid.uuid4())
    delivered_at = delivered_at or datetime.now(UTC)
    root = config.export_root
    folder = f"{root}/data/{partition_key}={billing_period}/"
    if mode == "CREATE_NEW_REPORT":
        folder += f"{delivered_at.strftime('%Y-%m-%dT%H:%M:%S.000Z')}-{execution_id}/"
    tables = table if isinstance(table, list) else [table]
    data_files = []
    for index, part in enumerate(tables, start=1):
        key = f"{folder}{config.export_name}-{index:05d}.snappy.parquet"
        s3.put_object(Bucket=config.export_bucket, Key=key, Body=parquet_bytes(part))
        data_files.append(f"s3://{config.export_bucket}/{key}")
    manifest = {
        "executionId": execution_id,
        "exportArn": EXPORT_ARN,
        "columns": [{"name": field.name, "type": str(field.type)} for field in tables[0].schema],
        "dataFiles": data_files + list(extra_manifest_files or []),
        "additionalOutputFiles": [],
    }
    if write_manifest:
        manifest_key = f"{root}/metadata/{partition_key}={billing_period}/{config.export_name}-Manifest.json"
        s3.put_object(Bucket=config.export_bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
    return manifest


_DAGS: dict[str, Any] = {}


def load_dag(dag_id: str) -> Any:
    """Parse the project's DAG files once and return one DAG."""
    if dag_id not in _DAGS:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=None)
        assert not bag.import_errors, bag.import_errors
        _DAGS.update(bag.dags)
    return _DAGS[dag_id]


FAST_CONFIG = {"poll_seconds": 0.05}


def run_dag(
    dag_id: str, logical_date: datetime, config: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[Any, dict[str, str]]:
    """Run a DAG with ``dag.test()`` and return the run and each task's final state by id.

    ``config`` entries are set in the ``focus_pipeline_config`` Variable for this run.
    """
    import os

    os.environ["AIRFLOW_VAR_FOCUS_PIPELINE_CONFIG"] = json.dumps({**FAST_CONFIG, **(config or {})})
    dag = load_dag(dag_id)
    # The emulator replies in milliseconds: poll it often so a run takes seconds, not minutes.
    for task in dag.tasks:
        # Retry at once: dag.test() waits out retry_delay between tries.
        task.retry_delay = timedelta(0)
        if hasattr(task, "poll_interval"):
            task.poll_interval = 0.1
        if hasattr(task, "sleep_time"):
            task.sleep_time = 0.05
    sensor = dag.task_dict.get("wait_for_delivery")
    if sensor is not None:
        # Poke once a second and give up after a few seconds, so a quiet period ends quickly.
        sensor.poke_interval = 0.5
        sensor.timeout = kwargs.pop("sensor_timeout", 3)
        sensor.mode = "poke"
    run = dag.test(logical_date=logical_date, **kwargs)
    states: dict[str, str] = {}
    for ti in run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        states[key] = str(getattr(ti.state, "value", ti.state))
    return run, states


def delivery_records(aws: Any) -> list[dict[str, Any]]:
    s3 = aws.client("s3")
    records = []
    for item in s3.list_objects_v2(Bucket=aws.config.bucket, Prefix=f"{aws.config.deliveries_prefix}/").get(
        "Contents", []
    ):
        records.append(json.loads(s3.get_object(Bucket=aws.config.bucket, Key=item["Key"])["Body"].read()))
    return sorted(records, key=lambda record: record.get("manifest_last_modified", ""))


def current_partitions(aws: Any) -> dict[str, dict[str, Any]]:
    glue = aws.client("glue")
    partitions = glue.get_partitions(DatabaseName=aws.config.database, TableName=aws.config.current_table)
    return {
        partition["Values"][0]: {
            "location": partition["StorageDescriptor"]["Location"],
            **partition["Parameters"],
        }
        for partition in partitions["Partitions"]
    }


def received_messages(aws: Any) -> list[dict[str, Any]]:
    """Drain the SNS topic's subscribed queue and return the SNS envelopes."""
    sqs = aws.client("sqs")
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=aws.resources["queue_url"], MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not batch:
            return messages
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=aws.resources["queue_url"], ReceiptHandle=message["ReceiptHandle"])


def athena_scalar(aws: Any, sql: str) -> str | None:
    """Run one query in the emulated Athena and return the first cell of the first row."""
    import time

    athena = aws.client("athena")
    query_id = athena.start_query_execution(
        QueryString=sql,
        WorkGroup=aws.config.workgroup,
        QueryExecutionContext={"Database": aws.config.database},
    )["QueryExecutionId"]
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.05)
    assert status["State"] == "SUCCEEDED", status
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    return rows[1]["Data"][0].get("VarCharValue") if len(rows) > 1 else None


def glue_table_names(aws: Any) -> set[str]:
    tables = aws.client("glue").get_tables(DatabaseName=aws.config.database)["TableList"]
    return {table["Name"] for table in tables}


def land_table(aws: Any, key: str, table: pa.Table) -> None:
    """Write one Parquet object to the export bucket (for files outside the Data Exports layout)."""
    aws.client("s3").put_object(Bucket=aws.config.export_bucket, Key=key, Body=parquet_bytes(table))


def task_failure_alerts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        m
        for m in messages
        if m.get("MessageAttributes", {}).get("detection_id", {}).get("Value") == "task_failure"
    ]


def delivery_alerts(messages: list[dict[str, Any]], outcome: str) -> list[dict[str, Any]]:
    return [
        m
        for m in messages
        if m.get("MessageAttributes", {}).get("detection_id", {}).get("Value") == f"delivery_{outcome}"
    ]
