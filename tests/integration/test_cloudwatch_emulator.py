"""The idle-endpoint cross-check against the emulator's CloudWatch and STS, through the Airflow connection."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from focus_pipeline import pipeline

pytestmark = pytest.mark.integration

MEMBER_ACCOUNT = "000987654321"
OTHER_ACCOUNT = "000111222333"
ROLE_ARN = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/focus-cloudwatch-read"
DAY = datetime(2026, 12, 19, tzinfo=UTC)


def endpoint_row(account: str, name: str) -> dict:
    return {
        "detection_id": "idle_sagemaker_endpoint",
        "severity": "medium",
        "billing_period": "2026-12",
        "sub_account_id": account,
        "region_id": "us-east-1",
        "resource_id": f"arn:aws:sagemaker:us-east-1:{account}:endpoint/{name}",
        "amount": "12.5",
        "evidence": json.dumps({"hosting_hours": "24"}),
    }


def put_invocations(aws, name: str, value: float) -> None:
    credentials = aws.client("sts").assume_role(RoleArn=ROLE_ARN, RoleSessionName="seed")["Credentials"]
    cloudwatch = boto3.client(
        "cloudwatch",
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": name},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Timestamp": DAY + timedelta(hours=6),
                "Value": value,
            }
        ],
    )


def test_cross_check_keeps_idle_and_unverified(aws):
    put_invocations(aws, "busy-endpoint", 40.0)
    put_invocations(aws, "idle-endpoint", 0.0)
    config = dataclasses.replace(aws.config, member_account_roles={MEMBER_ACCOUNT: ROLE_ARN})
    rows = [
        endpoint_row(MEMBER_ACCOUNT, "busy-endpoint"),
        endpoint_row(MEMBER_ACCOUNT, "idle-endpoint"),
        endpoint_row(OTHER_ACCOUNT, "no-role-endpoint"),
    ]
    entry = {"lookback_start": "2026-12-12 00:00:00", "window_end": "2026-12-20 00:00:00"}

    kept = pipeline.cross_check_endpoints(config, rows, entry)

    by_name = {row["resource_id"].rsplit("/", 1)[-1]: row for row in kept}
    assert sorted(by_name) == ["idle-endpoint", "no-role-endpoint"]
    assert by_name["idle-endpoint"]["status"] == "idle"
    assert json.loads(by_name["idle-endpoint"]["evidence"])["cloudwatch_status"] == "idle"
    assert by_name["no-role-endpoint"]["status"] == "unverified"
    assert json.loads(by_name["no-role-endpoint"]["evidence"])["cloudwatch_status"] == "unverified"
