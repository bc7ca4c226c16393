"""CloudWatch cross-check of idle SageMaker endpoint candidates (Invocations in AWS/SageMaker).

Provider 9.34.0 has no CloudWatch metrics hook, so clients come from ``AwsBaseHook`` with
``client_type="cloudwatch"``. Every client, the STS client and assumed-role clients included, uses
the connection's endpoint_url, so the check runs the same against the local emulator.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

import boto3
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)

IDLE = "idle"
BUSY = "busy"
UNVERIFIED = "unverified"
NAMESPACE = "AWS/SageMaker"
METRIC = "Invocations"
_ENDPOINT_ARN = re.compile(
    r"^arn:aws[\w-]*:sagemaker:(?P<region>[^:]+):(?P<account>\d+):endpoint/(?P<name>[^/]+)$"
)


def _parse_time(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _with_evidence(candidate: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
    """Return a copy of the candidate with its status and the check's fields merged into evidence."""
    result = dict(candidate)
    evidence = candidate.get("evidence") or {}
    if isinstance(evidence, str):
        evidence = json.loads(evidence)
    evidence = {**evidence, "cloudwatch_status": status, **{k: v for k, v in fields.items() if v is not None}}
    result["status"] = status
    result["invocations"] = fields.get("invocations")
    result["reason"] = fields.get("reason")
    result["evidence"] = json.dumps(evidence, sort_keys=True)
    return result


class _ClientFactory:
    """CloudWatch clients per (account, region), assuming a member role when one is configured."""

    def __init__(self, aws_conn_id: str | None, member_account_roles: dict[str, str]):
        self.hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="cloudwatch")
        self.member_account_roles = member_account_roles
        self._credentials: dict[str, dict[str, str]] = {}
        self._own_account: str | None = None

    def own_account(self) -> str:
        if self._own_account is None:
            self._own_account = self.hook.account_id
        return self._own_account

    def client(self, account: str, region: str) -> Any | None:
        """Return a CloudWatch client for the account, or None when no role reaches it."""
        role_arn = self.member_account_roles.get(account)
        if role_arn is None:
            if account != self.own_account():
                return None
            return self.hook.get_client_type(region_name=region)
        credentials = self._assume(account, role_arn, region)
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )
        return session.client(
            "cloudwatch",
            endpoint_url=self.hook.conn_config.get_service_endpoint_url("cloudwatch"),
            config=self.hook.config,
            verify=self.hook.verify,
        )

    def _assume(self, account: str, role_arn: str, region: str) -> dict[str, str]:
        if account not in self._credentials:
            sts = self.hook.get_session(region_name=region).client(
                "sts",
                endpoint_url=self.hook.conn_config.get_service_endpoint_url("sts"),
                config=self.hook.config,
                verify=self.hook.verify,
            )
            response = sts.assume_role(RoleArn=role_arn, RoleSessionName="focus-pipeline-cloudwatch")
            self._credentials[account] = response["Credentials"]
        return self._credentials[account]


def _sum_invocations(
    client: Any, endpoint: str, start: dt.datetime, end: dt.datetime
) -> tuple[float, list[str]]:
    """Return the Invocations sum over [start, end) across the endpoint's variants, and the variants."""
    paginator = client.get_paginator("list_metrics")
    variants: list[str] = []
    for page in paginator.paginate(
        Namespace=NAMESPACE, MetricName=METRIC, Dimensions=[{"Name": "EndpointName", "Value": endpoint}]
    ):
        for metric in page["Metrics"]:
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            variant = dimensions.get("VariantName")
            if variant is not None and variant not in variants:
                variants.append(variant)
    total = 0.0
    # One period covering the whole range, rounded up to a multiple of 60 s as CloudWatch requires.
    period = max(60, -(-int((end - start).total_seconds()) // 60) * 60)
    for variant in variants:
        response = client.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=METRIC,
            Dimensions=[
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": variant},
            ],
            StartTime=start,
            EndTime=end,
            Period=period,
            Statistics=["Sum"],
        )
        total += sum(point["Sum"] for point in response["Datapoints"])
    return total, variants


def check_endpoint_invocations(
    candidates: list[dict[str, Any]],
    *,
    aws_conn_id: str | None,
    window_start: dt.datetime | str,
    window_end: dt.datetime | str,
    member_account_roles: dict[str, str],
) -> list[dict[str, Any]]:
    """Classify each endpoint candidate as idle, busy or unverified from CloudWatch Invocations.

    A candidate is a detection row with ``resource_id`` the endpoint ARN. Each result is a copy
    with ``status``, ``invocations``, ``reason`` and the check merged into ``evidence`` (JSON).
    An endpoint whose metrics could not be read is ``unverified``, never ``idle``. Accounts other
    than the connection's are read through ``member_account_roles[account]`` when it is set.
    """
    start = _parse_time(window_start)
    end = _parse_time(window_end)
    factory = _ClientFactory(aws_conn_id, member_account_roles)
    results = []
    for candidate in candidates:
        arn = candidate.get("resource_id") or ""
        match = _ENDPOINT_ARN.match(arn)
        if match is None:
            log.warning("Endpoint ARN %r cannot be parsed; reporting it unverified", arn)
            results.append(
                _with_evidence(candidate, UNVERIFIED, reason=f"resource_id {arn!r} is not an endpoint ARN")
            )
            continue
        account, region, endpoint = match.group("account"), match.group("region"), match.group("name")
        try:
            client = factory.client(account, region)
            if client is None:
                reason = f"no role in member_account_roles for account {account}"
                log.warning("Endpoint %s reported unverified: %s", endpoint, reason)
                results.append(_with_evidence(candidate, UNVERIFIED, reason=reason))
                continue
            invocations, variants = _sum_invocations(client, endpoint, start, end)
        except (ClientError, BotoCoreError) as err:
            log.warning("Reading Invocations of endpoint %s in account %s failed: %s", endpoint, account, err)
            results.append(_with_evidence(candidate, UNVERIFIED, reason=f"CloudWatch read failed: {err}"))
            continue
        if not variants:
            # NOTE: billing ARNs carry the endpoint name in lower case, while CloudWatch keeps the
            # name as created, so an endpoint created with upper-case letters is reported unverified.
            log.info("No Invocations metrics for endpoint %s in account %s", endpoint, account)
            results.append(
                _with_evidence(
                    candidate, UNVERIFIED, reason=f"no {METRIC} metrics listed for endpoint {endpoint}"
                )
            )
            continue
        status = IDLE if invocations == 0 else BUSY
        log.info("Endpoint %s in account %s: %s invocations, %s", endpoint, account, invocations, status)
        results.append(
            _with_evidence(candidate, status, invocations=invocations, variants=",".join(variants))
        )
    return results
