"""new_region, new_service and egress_spike on small fixtures run in DuckDB."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.sql.conftest import ACCOUNT, OTHER_ACCOUNT, row, run_detection

pytestmark = pytest.mark.unit

PERIOD = "2026-10"
AS_OF = dt.datetime(2026, 10, 20)  # window 2026-10-01 .. 2026-10-20, end-exclusive


def keys(result, *columns):
    return [tuple(r[c] for c in columns) for r in result.rows]


# new_region: lookback 90 days before 2026-10-01 starts 2026-07-03.


def test_new_region_one_cent_counts(detections):
    rows = [
        row(start="2026-09-15", regionid="us-east-1"),
        row(start="2026-10-02 03:00:00", regionid="eu-west-1", cost=0.01),
    ]
    result = run_detection(detections["new_region"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert keys(result, "sub_account_id", "region_id") == [(ACCOUNT, "eu-west-1")]
    found = result.rows[0]
    assert found["detection_id"] == "new_region"
    assert found["severity"] == "high"
    assert found["billing_period"] == PERIOD
    assert found["first_seen"] == "2026-10-02 03:00:00"
    assert found["amount"] == 0.01
    assert found["service_code"] is None
    assert result.evidence()["services"] == "AmazonEC2"


def test_new_region_savings_plan_usage(detections):
    rows = [row(start="2026-10-03 05:00:00", regionid="ap-south-1", billedcost=0.0, effectivecost=2.5)]
    result = run_detection(detections["new_region"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert keys(result, "region_id", "amount") == [("ap-south-1", 2.5)]
    assert result.evidence()["billed_cost"] == "0.00"


def test_new_region_history_older_than_lookback(detections):
    # Usage on 2026-06-30 lies before the lookback start (2026-07-03), so October's use is new.
    rows = [
        row(start="2026-06-30 12:00:00", regionid="eu-west-1"),
        row(start="2026-10-01 00:00:00", regionid="eu-west-1", cost=3.333),
    ]
    result = run_detection(detections["new_region"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert keys(result, "region_id", "first_seen", "amount") == [("eu-west-1", "2026-10-01 00:00:00", 3.33)]


def test_new_region_is_per_account(detections):
    rows = [
        row(start="2026-08-01", regionid="eu-west-1", subaccountid=OTHER_ACCOUNT),
        row(start="2026-10-04", regionid="eu-west-1"),
    ]
    result = run_detection(detections["new_region"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert keys(result, "sub_account_id", "region_id") == [(ACCOUNT, "eu-west-1")]


def test_new_region_seen_in_earlier_period(detections):
    rows = [row(start="2026-08-10", regionid="eu-west-1"), row(start="2026-10-04", regionid="eu-west-1")]
    result = run_detection(detections["new_region"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert result.rows == []


def test_new_region_ignores_global_and_null(detections):
    rows = [
        row(start="2026-10-04", regionid="global", x_servicecode="AmazonRoute53"),
        row(start="2026-10-04", regionid=None, x_servicecode="AWSSupportBusiness"),
    ]
    result = run_detection(detections["new_region"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert result.rows == []


def test_new_region_ignores_credits_and_zero_cost(detections):
    rows = [
        row(start="2026-10-04", regionid="eu-west-1", chargecategory="Credit", cost=-5.0),
        row(start="2026-10-04", regionid="eu-north-1", cost=0.0),
    ]
    result = run_detection(detections["new_region"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert result.rows == []


def test_new_region_after_as_of_excluded(detections):
    rows = [row(start="2026-10-20 00:00:00", regionid="eu-west-1")]
    result = run_detection(detections["new_region"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert result.rows == []


# new_service: lookback 30 days before 2026-10-01 starts 2026-09-01.


def test_new_service_first_use(detections):
    rows = [
        row(start="2026-09-10"),
        row(
            start="2026-10-06 07:00:00",
            x_servicecode="AmazonBedrock",
            servicecategory="AI and Machine Learning",
        ),
    ]
    result = run_detection(detections["new_service"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert keys(result, "sub_account_id", "service_code", "first_seen", "amount") == [
        (ACCOUNT, "AmazonBedrock", "2026-10-06 07:00:00", 1.0)
    ]
    assert result.rows[0]["severity"] == "medium"
    assert result.evidence()["scope"] == "account"


def test_new_service_falls_back_to_service_name(detections):
    name = "Claude 3.5 Sonnet (Amazon Bedrock Edition)"
    rows = [row(start="2026-10-06", x_servicecode=None, servicename=name, cost=0.42)]
    result = run_detection(detections["new_service"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert keys(result, "service_code", "amount") == [(name, 0.42)]


def test_new_service_history_older_than_lookback(detections):
    rows = [
        row(start="2026-08-17", x_servicecode="AmazonSageMaker"),
        row(start="2026-10-02", x_servicecode="AmazonSageMaker"),
    ]
    result = run_detection(detections["new_service"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert keys(result, "service_code", "first_seen") == [("AmazonSageMaker", "2026-10-02 00:00:00")]


def test_new_service_organization_scope(detections):
    rows = [
        row(start="2026-10-03", x_servicecode="AmazonLightsail"),
        row(start="2026-10-02", x_servicecode="AmazonLightsail", subaccountid=OTHER_ACCOUNT),
    ]
    result = run_detection(
        detections["new_service"], rows, billing_period=PERIOD, as_of=AS_OF, new_service_scope="organization"
    )
    assert keys(result, "sub_account_id", "service_code", "first_seen", "amount") == [
        (None, "AmazonLightsail", "2026-10-02 00:00:00", 2.0)
    ]
    assert result.evidence()["accounts"] == f"{ACCOUNT},{OTHER_ACCOUNT}"


def test_new_service_used_in_lookback(detections):
    rows = [
        row(start="2026-09-10", x_servicecode="AmazonS3"),
        row(start="2026-10-02", x_servicecode="AmazonS3"),
    ]
    result = run_detection(detections["new_service"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert result.rows == []


def test_new_service_ignores_tax_and_credit(detections):
    rows = [
        row(start="2026-10-01", x_servicecode="AmazonGuardDuty", chargecategory="Tax", cost=0.2),
        row(start="2026-10-01", x_servicecode="AmazonQ", chargecategory="Credit", cost=-10.0),
    ]
    result = run_detection(detections["new_service"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert result.rows == []


def test_new_service_scope_changes_result(detections):
    rows = [
        row(start="2026-09-20", x_servicecode="AmazonKinesis", subaccountid=OTHER_ACCOUNT),
        row(start="2026-10-05", x_servicecode="AmazonKinesis"),
    ]
    detection = detections["new_service"]
    organization = run_detection(
        detection, rows, billing_period=PERIOD, as_of=AS_OF, new_service_scope="organization"
    )
    account = run_detection(detection, rows, billing_period=PERIOD, as_of=AS_OF)
    assert organization.rows == []
    assert keys(account, "sub_account_id", "service_code") == [(ACCOUNT, "AmazonKinesis")]


# egress_spike: baseline of 14 days before each day; compute 100 USD a day unless stated.


def compute(day: str, cost: float = 100.0, account: str = ACCOUNT, **values):
    return row(start=f"{day} 00:00:00", cost=cost, subaccountid=account, **values)


def egress(day: str, cost: float, meter: str = "USE1-DataTransfer-Out-Bytes", account: str = ACCOUNT):
    # EC2 transfer rows carry ServiceCategory Compute, as AWS delivers them.
    return row(start=f"{day} 01:00:00", cost=cost, subaccountid=account, skumeter=meter)


def steady_days(first: dt.date, last: dt.date, egress_cost: float, account: str = ACCOUNT) -> list:
    rows = []
    day = first
    while day <= last:
        rows += [
            compute(day.isoformat(), account=account),
            egress(day.isoformat(), egress_cost, account=account),
        ]
        day += dt.timedelta(days=1)
    return rows


def test_egress_spike_above_baseline(detections):
    rows = steady_days(dt.date(2026, 9, 21), dt.date(2026, 10, 4), 10.0)
    rows += [compute("2026-10-05"), egress("2026-10-05", 300.0)]
    result = run_detection(detections["egress_spike"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert keys(result, "sub_account_id", "first_seen", "amount") == [(ACCOUNT, "2026-10-05 01:00:00", 300.0)]
    evidence = result.evidence()
    assert evidence["alert_days"] == "2026-10-05"
    assert evidence["max_ratio"] == "3.0000"
    assert evidence["max_baseline_ratio"] == "0.1000"


def test_egress_spike_zero_compute(detections):
    rows = [egress("2026-10-03", 80.0)]
    result = run_detection(detections["egress_spike"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert keys(result, "amount", "first_seen") == [(80.0, "2026-10-03 01:00:00")]
    assert result.evidence()["max_ratio"] is None


def test_egress_spike_inter_region_without_history(detections):
    rows = [compute("2026-10-01"), egress("2026-10-01", 150.0, meter="USE1-USW2-AWS-Out-Bytes")]
    result = run_detection(detections["egress_spike"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert keys(result, "amount") == [(150.0,)]
    assert result.evidence()["max_ratio"] == "1.5000"


def test_egress_spike_below_min_cost(detections):
    rows = [compute("2026-10-03", cost=10.0), egress("2026-10-03", 40.0)]
    result = run_detection(detections["egress_spike"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert result.rows == []


def test_egress_spike_within_baseline(detections):
    rows = steady_days(dt.date(2026, 9, 21), dt.date(2026, 10, 4), 150.0)
    rows += [compute("2026-10-05"), egress("2026-10-05", 200.0)]
    result = run_detection(detections["egress_spike"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert result.rows == []


def test_egress_spike_savings_plan_compute(detections):
    rows = [compute("2026-10-03", billedcost=0.0, effectivecost=100.0), egress("2026-10-03", 60.0)]
    result = run_detection(detections["egress_spike"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert result.rows == []


def test_egress_spike_ignores_nat_and_regional(detections):
    rows = [
        compute("2026-10-03"),
        egress("2026-10-03", 500.0, meter="USE1-NatGateway-Bytes"),
        egress("2026-10-03", 500.0, meter="USE1-DataTransfer-Regional-Bytes"),
    ]
    result = run_detection(detections["egress_spike"], rows, billing_period=PERIOD, as_of=AS_OF)
    assert result.rows == []
