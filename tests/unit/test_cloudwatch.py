"""CloudWatch cross-check of SageMaker endpoint candidates against moto's in-process AWS mock."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from moto import mock_aws

from focus_pipeline.cloudwatch import BUSY, IDLE, UNVERIFIED, check_endpoint_invocations

pytestmark = pytest.mark.unit

OWN_ACCOUNT = "123456789012"  # moto's default account
MEMBER_ACCOUNT = "210987654321"
MEMBER_ROLE = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/focus-cloudwatch-read"
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 10, 8, tzinfo=dt.UTC)


def candidate(account: str, name: str, region: str = "us-east-1") -> dict:
    return {
        "detection_id": "idle_sagemaker_endpoint",
        "sub_account_id": account,
        "region_id": region,
        "resource_id": f"arn:aws:sagemaker:{region}:{account}:endpoint/{name}",
        "amount": 120.0,
        "evidence": json.dumps({"endpoint_name": name}),
    }


def put_invocations(client, name: str, values: list[float], variant: str = "AllTraffic") -> None:
    client.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": name},
                    {"Name": "VariantName", "Value": variant},
                ],
                "Timestamp": START + dt.timedelta(days=2, hours=i),
                "Value": value,
            }
            for i, value in enumerate(values)
        ],
    )


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_CW_TEST", json.dumps({"conn_type": "aws"}))
    with mock_aws():
        yield


def member_cloudwatch():
    credentials = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=MEMBER_ROLE, RoleSessionName="fixture"
    )["Credentials"]
    return boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def check(candidates, roles=None):
    return check_endpoint_invocations(
        candidates,
        aws_conn_id="aws_cw_test",
        window_start=START,
        window_end=END,
        member_account_roles=roles or {},
    )


def test_idle_busy_and_unlisted_endpoints(aws):
    client = boto3.client("cloudwatch", region_name="us-east-1")
    put_invocations(client, "idle-ep", [0.0, 0.0])
    put_invocations(client, "busy-ep", [0.0, 3.0], variant="A")
    put_invocations(client, "busy-ep", [2.0], variant="B")
    results = check([candidate(OWN_ACCOUNT, n) for n in ("idle-ep", "busy-ep", "never-listed")])
    assert [r["status"] for r in results] == [IDLE, BUSY, UNVERIFIED]
    assert results[0]["invocations"] == 0
    assert results[1]["invocations"] == 5
    assert "no Invocations metrics" in results[2]["reason"]
    evidence = json.loads(results[1]["evidence"])
    assert evidence["variants"] == "A,B"
    assert evidence["endpoint_name"] == "busy-ep"


def test_invocations_outside_window_ignored(aws):
    client = boto3.client("cloudwatch", region_name="us-east-1")
    client.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "old-ep"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Timestamp": START - dt.timedelta(days=1),
                "Value": 50.0,
            }
        ],
    )
    put_invocations(client, "old-ep", [0.0])
    [result] = check([candidate(OWN_ACCOUNT, "old-ep")])
    assert result["status"] == IDLE


def test_member_account_through_assumed_role(aws):
    put_invocations(member_cloudwatch(), "member-ep", [0.0])
    put_invocations(member_cloudwatch(), "member-busy", [7.0])
    results = check(
        [candidate(MEMBER_ACCOUNT, "member-ep"), candidate(MEMBER_ACCOUNT, "member-busy")],
        roles={MEMBER_ACCOUNT: MEMBER_ROLE},
    )
    assert [r["status"] for r in results] == [IDLE, BUSY]
    assert results[1]["invocations"] == 7


def test_member_account_without_role_unverified(aws):
    put_invocations(member_cloudwatch(), "member-ep", [0.0])
    [result] = check([candidate(MEMBER_ACCOUNT, "member-ep")])
    assert result["status"] == UNVERIFIED
    assert MEMBER_ACCOUNT in result["reason"]
    assert json.loads(result["evidence"])["cloudwatch_status"] == UNVERIFIED


def test_access_denied_unverified(aws, monkeypatch):
    from botocore.exceptions import ClientError

    def deny(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "ListMetrics")

    monkeypatch.setattr("focus_pipeline.cloudwatch._sum_invocations", deny)
    [result] = check([candidate(OWN_ACCOUNT, "any-ep")])
    assert result["status"] == UNVERIFIED
    assert "AccessDenied" in result["reason"]


def test_unparseable_arn_unverified(aws):
    bad = candidate(OWN_ACCOUNT, "x")
    bad["resource_id"] = "i-0123456789abcdef0"
    [result] = check([bad])
    assert result["status"] == UNVERIFIED
    assert "not an endpoint ARN" in result["reason"]
