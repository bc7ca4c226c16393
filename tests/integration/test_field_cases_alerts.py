"""Crawl, detections and alerts of the delivery DAG: a running crawler, the catalog's tables, result
locations, findings counted once per fingerprint, backfills, FIFO topics and failed queries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.integration.delivery_harness import (
    delivery_alerts,
    glue_table_names,
    land_delivery,
    load_dag,
    received_messages,
    run_dag,
    task_failure_alerts,
)
from tests.integration.focus_rows import ARROW_TYPES, focus_row, focus_table

pytestmark = pytest.mark.integration

APRIL_RUN = datetime(2026, 4, 10, 12, tzinfo=UTC)
ENFORCED_RESULTS = "s3://focus-billing-pipeline/athena-results/"

BEDROCK_DETECTION = """/*
id: bedrock_resources
title: Bedrock resources with usage
severity: medium
workload: security
schedule: per_delivery
lookback_days: 0
required_columns: [ResourceId, x_ServiceCode]
description: One finding per Bedrock resource with usage in the window.
false_positives:
  - Planned use.
remediation: Check the resource.
references:
  - https://focus.finops.org/focus-specification/v1-2/
status: experimental
*/
SELECT 'bedrock_resources' AS detection_id, 'medium' AS severity, billing_period,
    subaccountid AS sub_account_id, regionid AS region_id, x_servicecode AS service_code,
    resourceid AS resource_id, CAST(NULL AS varchar) AS commitment_discount_id,
    CAST(min(chargeperiodstart) AS varchar) AS first_seen, sum(billedcost) AS amount, '{}' AS evidence
FROM {{ params.database }}.{{ params.table }}
WHERE billing_period IN ({{ params.periods_sql }})
    AND x_servicecode = 'AmazonBedrock'
GROUP BY billing_period, subaccountid, regionid, x_servicecode, resourceid
"""

BROKEN_DETECTION = BEDROCK_DETECTION.replace("bedrock_resources", "broken_query").replace(
    "FROM {{ params.database }}.{{ params.table }}", "FROM {{ params.database }}.no_such_table"
)


def state(run) -> str:
    return str(getattr(run.state, "value", run.state))


def use_detections(monkeypatch, tmp_path: Path, files: dict[str, str]) -> None:
    """Make the DAG load only the given detection files."""
    from focus_pipeline import detections

    for name, text in files.items():
        (tmp_path / name).write_text(text)
    original = detections.load_detections

    def load(sql_dir=None, workload=None):
        return original(sql_dir=tmp_path, workload=workload)

    monkeypatch.setattr(detections, "load_detections", load)


def bedrock_rows(count: int) -> list[dict]:
    return [
        focus_row(100 + index, x_ServiceCode="AmazonBedrock", ServiceName="Amazon Bedrock", BilledCost=2.0)
        for index in range(count)
    ]


def finding_messages(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["MessageAttributes"]["detection_id"]["Value"] == "bedrock_resources"]


def test_running_crawler_and_catalog_tables(aws, airflow_db, monkeypatch):
    schema = {**{name: kind for name, kind in focus_rows_schema().items()}, "x_NewThing": "string"}
    rows = [focus_row(i, x_NewThing="drift") for i in range(20)]
    land_delivery(aws, focus_table(rows, schema), "2026-04")
    s3 = aws.client("s3")
    s3.put_object(
        Bucket=aws.config.export_bucket,
        Key="exports/focus-export/aws-programmatic-access-test-object",
        Body=b"",
    )
    glue = aws.client("glue")
    crawler_before = glue.get_crawler(Name=aws.config.crawler_name)["Crawler"]
    crawler_arn = "arn:aws:glue:us-east-1:123456789012:crawler/" + aws.config.crawler_name
    glue.tag_resource(ResourceArn=crawler_arn, TagsToAdd={"owner": "finops"})
    observed: dict[str, str] = {}
    crawl_task = load_dag("focus_delivery").task_dict["crawl_snapshots"]
    original_execute = type(crawl_task).execute

    def execute_after_scheduled_start(self, context):
        # The crawler's own schedule started a crawl just before this task.
        glue.start_crawler(Name=aws.config.crawler_name)
        observed["state"] = glue.get_crawler(Name=aws.config.crawler_name)["Crawler"]["State"]
        return original_execute(self, context)

    monkeypatch.setattr(type(crawl_task), "execute", execute_after_scheduled_start)

    run, states = run_dag("focus_delivery", APRIL_RUN)

    assert observed["state"] == "RUNNING"
    assert states["crawl_snapshots"] == "success"
    assert states["promote_snapshot"] == "success"
    assert state(run) == "success"
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert tis["validate_snapshot"].start_date >= tis["crawl_snapshots"].end_date
    crawler_after = glue.get_crawler(Name=aws.config.crawler_name)["Crawler"]
    for key in ("Targets", "SchemaChangePolicy", "Configuration", "DatabaseName", "TablePrefix", "Role"):
        assert crawler_after.get(key) == crawler_before.get(key), key
    assert glue.get_tags(ResourceArn=crawler_arn)["Tags"] == {"owner": "finops"}
    assert glue_table_names(aws) == {"focus_snapshots", "focus_current", "findings"}
    drift = delivery_alerts(received_messages(aws), "drift")
    assert len(drift) == 1
    assert "x_NewThing" in drift[0]["Message"]


def focus_rows_schema() -> dict[str, str]:
    from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS

    assert "string" in ARROW_TYPES
    return dict(AWS_FOCUS_1_2_COLUMNS)


def test_findings_alert_once_per_fingerprint(aws, airflow_db, monkeypatch, tmp_path):
    from focus_pipeline import airflow_support

    use_detections(monkeypatch, tmp_path, {"bedrock_resources.sql": BEDROCK_DETECTION})
    # The DAG names another result location than the one the workgroup enforces.
    config = {"athena_output_location": "s3://focus-billing-pipeline/dag-results/"}
    base = [focus_row(i) for i in range(10)]

    land_delivery(aws, focus_table(base + bedrock_rows(3)), "2026-04")
    with monkeypatch.context() as patch:
        patch.setattr(airflow_support, "is_backfill", lambda context: True)
        _, backfill_states = run_dag("focus_delivery", APRIL_RUN, config=config)
    assert backfill_states["record_findings"] == "success"
    assert finding_messages(received_messages(aws)) == []
    findings_objects = aws.client("s3").list_objects_v2(
        Bucket=aws.config.bucket, Prefix="findings/period=2026-04/"
    )
    assert findings_objects["KeyCount"] == 1

    land_delivery(aws, focus_table(base + bedrock_rows(3) + [focus_row(50)]), "2026-04")
    _, live_states = run_dag("focus_delivery", APRIL_RUN, config=config)
    messages = finding_messages(received_messages(aws))
    assert live_states["publish_alerts[0]"] == "success"
    assert len(messages) == 1
    assert messages[0]["Message"].startswith("3 new bedrock_resources findings")
    assert messages[0]["Subject"] == "FOCUS security: 3 bedrock_resources findings (2026-04)"
    listed = [line for line in messages[0]["Message"].splitlines() if line.startswith("- [medium]")]
    assert len(listed) == 3
    assert messages[0]["MessageAttributes"]["workload"]["Value"] == "security"

    athena = aws.client("athena")
    query_ids = athena.list_query_executions(WorkGroup=aws.config.workgroup)["QueryExecutionIds"]
    detection_queries = [
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"] for query_id in query_ids
    ]
    detection_queries = [q for q in detection_queries if "bedrock_resources" in q["Query"]]
    assert detection_queries
    for query in detection_queries:
        assert query["ResultConfiguration"]["OutputLocation"].startswith(ENFORCED_RESULTS)

    land_delivery(aws, focus_table(base + bedrock_rows(3) + [focus_row(51)]), "2026-04")
    _, repeat_states = run_dag("focus_delivery", APRIL_RUN, config=config)
    assert repeat_states["record_findings"] == "success"
    assert finding_messages(received_messages(aws)) == []

    # The Bedrock usage is gone, with the same row count, total and last charge period.
    replacements = [focus_row(60 + index, BilledCost=2.0) for index in range(3)]
    land_delivery(aws, focus_table(base + replacements + [focus_row(51)]), "2026-04")
    run, quiet_states = run_dag("focus_delivery", APRIL_RUN, config=config)
    assert quiet_states["record_findings"] == "success"
    assert state(run) == "success"
    assert received_messages(aws) == []


def test_fifo_topic_retried_publish(aws, airflow_db, monkeypatch):
    from airflow.providers.amazon.aws.operators.sns import SnsPublishOperator

    sns = aws.client("sns")
    sqs = aws.client("sqs")
    topic_arn = sns.create_topic(
        Name="focus-alerts.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"}
    )["TopicArn"]
    queue_url = sqs.create_queue(QueueName="focus-fifo-subscriber.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    schema = {**focus_rows_schema(), "x_NewThing": "string"}
    land_delivery(aws, focus_table([focus_row(i, x_NewThing="drift") for i in range(10)], schema), "2026-04")
    original_execute = SnsPublishOperator.execute
    tries: list[int] = []

    def publish_then_lose_response(self, context):
        # The message goes out, then the worker dies before the task succeeds: two times.
        result = original_execute(self, context)
        tries.append(1)
        if len(tries) <= 2:
            raise ConnectionResetError("worker lost after publishing")
        return result

    monkeypatch.setattr(SnsPublishOperator, "execute", publish_then_lose_response)

    _, states = run_dag("focus_delivery", APRIL_RUN, config={"topic_arn": topic_arn})

    assert states["publish_alerts[0]"] == "success"
    assert len(tries) == 3
    received = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=1
    ).get("Messages", [])
    assert len(received) == 1
    assert received[0]["Attributes"]["MessageGroupId"] == "delivery"
    assert len(received[0]["Attributes"]["MessageDeduplicationId"]) == 64
    assert "x_NewThing" in json.loads(received[0]["Body"])["Message"]


def test_failed_detection_alerts_reason(aws, airflow_db, monkeypatch, tmp_path):
    use_detections(monkeypatch, tmp_path, {"broken_query.sql": BROKEN_DETECTION})
    land_delivery(aws, focus_table([focus_row(i) for i in range(10)]), "2026-04")

    run, states = run_dag("focus_delivery", APRIL_RUN)

    assert states["run_security_detections[0]"] == "failed"
    assert state(run) == "failed"
    athena = aws.client("athena")
    failed = []
    for query_id in athena.list_query_executions(WorkGroup=aws.config.workgroup)["QueryExecutionIds"]:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if "no_such_table" in execution["Query"]:
            failed.append(execution)
    assert failed
    alerts = [
        a for a in task_failure_alerts(received_messages(aws)) if "run_security_detections" in a["Subject"]
    ]
    assert len(alerts) >= 1
    reason = failed[-1]["Status"]["StateChangeReason"]
    assert any(q["QueryExecutionId"] in alerts[0]["Message"] for q in failed)
    assert reason in alerts[0]["Message"]
    assert "no_such_table" in reason.lower()


def test_missing_result_location_fails_early(aws, airflow_db):
    athena = aws.client("athena")
    athena.create_work_group(Name="focus-no-results", Configuration={"EnforceWorkGroupConfiguration": False})
    land_delivery(aws, focus_table([focus_row(i) for i in range(10)]), "2026-04")
    queries_before = athena.list_query_executions()["QueryExecutionIds"]

    run, states = run_dag("focus_delivery", APRIL_RUN, config={"workgroup": "focus-no-results"})

    assert states["select_delivery"] == "failed"
    assert states["stage_delivery"] == "upstream_failed"
    assert state(run) == "failed"
    assert athena.list_query_executions()["QueryExecutionIds"] == queries_before
    alerts = task_failure_alerts(received_messages(aws))
    assert len(alerts) >= 1
    assert "focus-no-results has no query result location" in alerts[0]["Message"]
    assert "athena_output_location" in alerts[0]["Message"]
