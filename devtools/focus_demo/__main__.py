"""Run the pipeline end to end on the local emulator: ``make demo`` and ``make replay``.

The demo starts the emulator on 127.0.0.1 and provisions what Terraform creates on AWS. It lands a
generated FOCUS 1.2 history: closed months, then several deliveries on the last day, with an
incident for every detection and one bad delivery. It runs the delivery DAG once per delivery, in
delivery order, then the daily cost DAG for the last day, and writes ``build/demo/summary.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from focus_pipeline.findings import ENTITY_KEYS

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "build" / "demo"
# Role the CloudWatch check assumes in the account that runs the demo's SageMaker endpoints.
CLOUDWATCH_ROLE_NAME = "focus-cloudwatch-read"


def demo_config() -> dict[str, Any]:
    """Return the demo's focus_pipeline_config: fast polling, because the emulator replies in
    milliseconds, and the member account role of the SageMaker account."""
    from focus_generator import catalog

    role = f"arn:aws:iam::{catalog.SAGEMAKER_ACCOUNT}:role/{CLOUDWATCH_ROLE_NAME}"
    return {"poll_seconds": 0.05, "member_account_roles": {catalog.SAGEMAKER_ACCOUNT: role}}


log = logging.getLogger("focus_demo")


def prepare_airflow(home: Path) -> None:
    """Point Airflow at a fresh home under the output folder and create its metadata database."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = os.environ.get(
        "AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"
    )
    os.environ["AIRFLOW_VAR_FOCUS_PIPELINE_CONFIG"] = json.dumps(demo_config())
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


def connect_airflow(endpoint_url: str) -> None:
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"region_name": "us-east-1", "endpoint_url": endpoint_url},
    }
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(connection)


def load_dags() -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    for dag in bag.dags.values():
        for task in dag.tasks:
            if hasattr(task, "poll_interval"):
                task.poll_interval = 0.1
            if hasattr(task, "sleep_time"):
                task.sleep_time = 0.05
        sensor = dag.task_dict.get("wait_for_delivery")
        if sensor is not None:
            sensor.mode, sensor.poke_interval, sensor.timeout = "poke", 0.5, 2
    return bag.dags


def run_dag(dag: Any, logical_date: datetime) -> dict[str, str]:
    run = dag.test(logical_date=logical_date)
    states = {}
    for ti in run.get_task_instances():
        if ti.map_index < 0:
            states[ti.task_id] = str(getattr(ti.state, "value", ti.state))
    return states


def demo_history(months: int, accounts: int) -> list[Any]:
    """Generate the demo's deliveries, with one bad (duplicated rows) delivery before the last one."""
    from focus_generator import SCENARIOS, GeneratorConfig, apply_fault, generate_history

    config = GeneratorConfig(
        seed=7,
        start_period="2026-08",
        months=months,
        accounts=accounts,
        deliveries_in_last_day=3,
        scenarios=frozenset(SCENARIOS),
    )
    deliveries = generate_history(config)
    second = deliveries[-2]
    bad = apply_fault(second, "duplicate_rows", seed=config.seed)
    bad = dataclasses.replace(
        bad,
        execution_id=str(uuid.UUID(int=uuid.UUID(second.execution_id).int ^ 1)),
        delivered_at=second.delivered_at + timedelta(hours=1),
    )
    deliveries.insert(len(deliveries) - 1, bad)
    return config, deliveries


def seed_cloudwatch(aws: Any, day: datetime) -> None:
    """Publish SageMaker Invocations in the endpoints' member account, through the role the CloudWatch
    check assumes: the busy endpoint is called every day of the check's week, the idle one reports
    zero."""
    import boto3

    from focus_generator import catalog

    role_arn = demo_config()["member_account_roles"][catalog.SAGEMAKER_ACCOUNT]
    credentials = aws("sts").assume_role(RoleArn=role_arn, RoleSessionName="focus-demo-seed")["Credentials"]
    cloudwatch = boto3.client(
        "cloudwatch",
        endpoint_url=aws("sts").meta.endpoint_url,
        region_name=catalog.SAGEMAKER_REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )

    for arn, count in ((catalog.BUSY_ENDPOINT_ARN, 1200.0), (catalog.IDLE_ENDPOINT_ARN, 0.0)):
        name = arn.rsplit("/", 1)[-1]
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": name},
                        {"Name": "VariantName", "Value": "AllTraffic"},
                    ],
                    "Timestamp": day - timedelta(days=days_back) + timedelta(hours=hour),
                    "Value": count,
                    "Unit": "None",
                }
                for days_back in range(8)
                for hour in range(0, 24, 6)
            ],
        )


def drain_queue(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def read_findings(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    findings = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            findings.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return findings


def summarise(aws: Any, config: Any, notifications: list[dict[str, Any]]) -> dict[str, Any]:
    """Build summary.json from the delivery log, focus_current, the findings log and the messages."""
    s3, glue = aws("s3"), aws("glue")
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=config.bucket, Prefix=f"{config.deliveries_prefix}/"
    ):
        for item in page.get("Contents", []):
            records.append(json.loads(s3.get_object(Bucket=config.bucket, Key=item["Key"])["Body"].read()))
    records.sort(key=lambda record: record.get("manifest_last_modified", ""))
    partitions = glue.get_partitions(DatabaseName=config.database, TableName=config.current_table)[
        "Partitions"
    ]
    alerted = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=config.bucket, Prefix=f"{config.findings_prefix}_alerted/"
    ):
        alerted.update(
            item["Key"].rsplit("/", 1)[-1].removesuffix(".json") for item in page.get("Contents", [])
        )
    findings = read_findings(s3, config.bucket, config.findings_prefix)
    unique = {}
    for finding in findings:
        unique.setdefault((finding["billing_period"], finding["fingerprint"]), finding)
    return {
        "deliveries": [
            {
                "billing_period": record["billing_period"],
                "execution_id": record["execution_id"],
                "status": record.get("status"),
                "rows": record.get("rows"),
                "billed_cost": round(record["billed_cost"], 2)
                if record.get("billed_cost") is not None
                else None,
                "validation": record.get("validation"),
            }
            for record in records
        ],
        "current": {
            partition["Values"][0]: {
                "execution_id": partition["Parameters"].get("execution_id"),
                "rows": int(partition["Parameters"].get("rows", 0)),
                "billed_cost": round(float(partition["Parameters"].get("billed_cost", 0.0)), 2),
            }
            for partition in sorted(partitions, key=lambda p: p["Values"][0])
        },
        "findings": [
            {
                "detection_id": finding["detection_id"],
                "fingerprint": finding["fingerprint"],
                "severity": finding["severity"],
                "billing_period": finding["billing_period"],
                "status": finding["status"],
                "alerted": finding["fingerprint"] in alerted,
                "entity": {key: finding[key] for key in ENTITY_KEYS if finding.get(key)},
                "amount": finding.get("amount"),
                "evidence": finding.get("evidence"),
            }
            for finding in sorted(unique.values(), key=lambda f: (f["billing_period"], f["detection_id"]))
        ],
        "notifications": [
            {
                "subject": message.get("Subject"),
                "attributes": {
                    key: value["Value"] for key, value in message.get("MessageAttributes", {}).items()
                },
                "finding_count": message.get("Message", "").count("\n- ["),
            }
            for message in notifications
        ],
    }


def print_delivery(delivery: Any, states: dict[str, str], messages: list[dict[str, Any]]) -> None:
    outcome = (
        "promoted"
        if states.get("promote_snapshot") == "success"
        else "quarantined"
        if states.get("finish_delivery") == "failed"
        else "skipped"
    )
    print(
        f"{delivery.billing_period} {delivery.execution_id} delivered {delivery.delivered_at:%Y-%m-%d %H:%M} "
        f"({delivery.table.num_rows} rows): {outcome}"
    )
    for message in messages:
        print(f"    SNS: {message.get('Subject')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m focus_demo", description=__doc__)
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="folder for summary.json and Airflow's home"
    )
    parser.add_argument(
        "--months", type=int, default=5, help="billing periods of history, the current one included"
    )
    parser.add_argument(
        "--accounts", type=int, default=12, help="member accounts in the generated organisation"
    )
    parser.add_argument(
        "--replay", type=Path, help="export folder or FOCUS CSV to run instead of generated data"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from focus_emulator import guard
    from focus_emulator.provision import provision
    from focus_emulator.server import Emulator
    from focus_generator import S3Target, write_delivery
    from focus_pipeline.config import PipelineConfig

    guard.install()
    output = args.output.resolve()
    prepare_airflow(output / "airflow-home")
    started = datetime.now(UTC)
    with Emulator() as emulator:
        import boto3

        def aws(service: str) -> Any:
            return boto3.client(service, endpoint_url=emulator.endpoint_url, region_name="us-east-1")

        pipeline_config = PipelineConfig()
        resources = provision(emulator.endpoint_url, pipeline_config)
        connect_airflow(emulator.endpoint_url)
        print(f"Emulator on {emulator.endpoint_url}; provisioned {', '.join(sorted(resources))}")
        dags = load_dags()
        notifications: list[dict[str, Any]] = []

        if args.replay:
            from focus_demo.replay import replay  # noqa: PLC0415

            notifications = replay(args.replay, aws, pipeline_config, dags, resources["queue_url"])
        else:
            generator_config, deliveries = demo_history(args.months, args.accounts)
            seed_cloudwatch(aws, datetime.combine(generator_config.scenario_day, datetime.min.time(), UTC))
            target = S3Target(aws("s3"), pipeline_config.export_bucket)
            for delivery in deliveries:
                write_delivery(delivery, target=target, config=generator_config)
                states = run_dag(dags["focus_delivery"], delivery.delivered_at + timedelta(minutes=5))
                messages = drain_queue(aws("sqs"), resources["queue_url"])
                notifications.extend(messages)
                print_delivery(delivery, states, messages)
            checked_day = datetime.combine(generator_config.scenario_day, datetime.min.time(), UTC)
            # The cost DAG's run at midnight checks the day two days before it.
            day_after = checked_day + timedelta(days=2)
            states = run_dag(dags["focus_cost_detections"], day_after)
            messages = drain_queue(aws("sqs"), resources["queue_url"])
            notifications.extend(messages)
            print(f"Daily cost detections for {checked_day:%Y-%m-%d}: {states.get('record_findings')}")
            for message in messages:
                print(f"    SNS: {message.get('Subject')}")

        summary = summarise(aws, pipeline_config, notifications)
    summary["wall_seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    output.mkdir(parents=True, exist_ok=True)
    (output / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"\n{len(summary['deliveries'])} deliveries, {len(summary['current'])} current periods, "
        f"{len(summary['findings'])} findings, {len(summary['notifications'])} notifications "
        f"in {summary['wall_seconds']} s. Summary: {output / 'summary.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
