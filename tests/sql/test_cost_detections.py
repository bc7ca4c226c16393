"""orphaned_search_ocu, idle_sagemaker_endpoint and commitment_drift on small fixtures in DuckDB."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.sql.conftest import ACCOUNT, row, run_detection

pytestmark = pytest.mark.unit

COLLECTION = f"arn:aws:aoss:us-east-1:{ACCOUNT}:collection/kb-vectors"


def keys(result, *columns):
    return [tuple(r[c] for c in columns) for r in result.rows]


def ocu_days(first: dt.date, last: dt.date, cost: float = 5.76, meter: str = "USE1-IndexingOCU") -> list:
    rows = []
    day = first
    while day <= last:
        rows.append(
            row(
                start=f"{day.isoformat()} 00:00:00",
                cost=cost,
                x_servicecode="AmazonES",
                servicename="Amazon OpenSearch Service",
                servicecategory="Analytics",
                skumeter=meter,
                resourceid=COLLECTION,
            )
        )
        day += dt.timedelta(days=1)
    return rows


def bedrock(day: str, **values):
    defaults = {"x_servicecode": "AmazonBedrock", "servicename": "Amazon Bedrock", "cost": 0.3}
    return row(start=day, **{**defaults, **values})


# orphaned_search_ocu: daily window 2026-10-08, lookback from 2026-10-01.
OCU_AS_OF = dt.date(2026, 10, 8)


def test_ocu_without_bedrock(detections):
    rows = ocu_days(dt.date(2026, 10, 1), dt.date(2026, 10, 8))
    result = run_detection(detections["orphaned_search_ocu"], rows, billing_period="2026-10", as_of=OCU_AS_OF)
    assert keys(result, "sub_account_id", "region_id", "resource_id", "first_seen", "amount") == [
        (ACCOUNT, "us-east-1", COLLECTION, "2026-10-01 00:00:00", 5.76)
    ]
    evidence = result.evidence()
    assert evidence["projected_monthly_waste"] == "172.80"
    assert evidence["ocu_days"] == "8"
    assert result.rows[0]["service_code"] == "AmazonES"


def test_ocu_bedrock_before_lookback(detections):
    rows = ocu_days(dt.date(2026, 10, 6), dt.date(2026, 10, 8), meter="USE1-SearchOCU") + [
        bedrock("2026-09-20")
    ]
    result = run_detection(detections["orphaned_search_ocu"], rows, billing_period="2026-10", as_of=OCU_AS_OF)
    assert keys(result, "first_seen", "amount") == [("2026-10-06 00:00:00", 5.76)]


def test_ocu_lookback_spans_two_periods(detections):
    rows = ocu_days(dt.date(2026, 10, 28), dt.date(2026, 11, 2), cost=2.0)
    result = run_detection(
        detections["orphaned_search_ocu"], rows, billing_period="2026-11", as_of=dt.date(2026, 11, 2)
    )
    assert keys(result, "billing_period", "first_seen", "amount") == [("2026-11", "2026-10-28 00:00:00", 2.0)]
    assert result.evidence()["lookback_cost"] == "12.00"


def test_ocu_bedrock_in_other_region(detections):
    rows = ocu_days(dt.date(2026, 10, 1), dt.date(2026, 10, 8)) + [
        bedrock("2026-10-03", regionid="us-west-2")
    ]
    result = run_detection(detections["orphaned_search_ocu"], rows, billing_period="2026-10", as_of=OCU_AS_OF)
    assert result.rows == []


def test_ocu_bedrock_marketplace_model(detections):
    marketplace = bedrock(
        "2026-10-07", x_servicecode="AWSMarketplace", servicename="Claude 3.5 Sonnet (Amazon Bedrock Edition)"
    )
    rows = ocu_days(dt.date(2026, 10, 1), dt.date(2026, 10, 8)) + [marketplace]
    result = run_detection(detections["orphaned_search_ocu"], rows, billing_period="2026-10", as_of=OCU_AS_OF)
    assert result.rows == []


def test_ocu_stopped_before_window(detections):
    rows = ocu_days(dt.date(2026, 10, 1), dt.date(2026, 10, 6))
    result = run_detection(detections["orphaned_search_ocu"], rows, billing_period="2026-10", as_of=OCU_AS_OF)
    assert result.rows == []


def test_ocu_below_min_cost(detections):
    rows = ocu_days(dt.date(2026, 10, 7), dt.date(2026, 10, 8), cost=0.1)
    result = run_detection(detections["orphaned_search_ocu"], rows, billing_period="2026-10", as_of=OCU_AS_OF)
    assert result.rows == []


# idle_sagemaker_endpoint: daily window 2026-10-08, check range from 2026-10-01.


def endpoint_arn(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{name}"


def hosting(day: str, name: str = "churn-model", meter: str = "USE1-Host:ml.m5.large", **values):
    defaults = {
        "cost": 2.76,
        "consumedquantity": 24.0,
        "x_servicecode": "AmazonSageMaker",
        "servicename": "Amazon SageMaker",
        "servicecategory": "AI and Machine Learning",
        "skumeter": meter,
        "resourceid": endpoint_arn(name),
    }
    return row(start=f"{day} 00:00:00", **{**defaults, **values})


def test_endpoint_candidate(detections):
    rows = [hosting("2026-10-06"), hosting("2026-10-07"), hosting("2026-10-08")]
    result = run_detection(
        detections["idle_sagemaker_endpoint"], rows, billing_period="2026-10", as_of=OCU_AS_OF
    )
    assert keys(result, "resource_id", "first_seen", "amount") == [
        (endpoint_arn("churn-model"), "2026-10-06 00:00:00", 8.28)
    ]
    evidence = result.evidence()
    assert evidence["endpoint_name"] == "churn-model"
    assert evidence["hosting_hours"] == "72.00"
    assert evidence["window_hours"] == "24.00"
    assert evidence["check_start"] == "2026-10-01 00:00:00"
    assert evidence["check_end"] == "2026-10-09 00:00:00"


def test_endpoint_savings_plan_hosting(detections):
    rows = [hosting("2026-10-08", billedcost=0.0, effectivecost=1.9)]
    result = run_detection(
        detections["idle_sagemaker_endpoint"], rows, billing_period="2026-10", as_of=OCU_AS_OF
    )
    assert keys(result, "amount") == [(1.9,)]


def test_endpoint_two_candidates_ordered(detections):
    rows = [hosting("2026-10-08", name="zeta"), hosting("2026-10-08", name="alpha")]
    result = run_detection(
        detections["idle_sagemaker_endpoint"], rows, billing_period="2026-10", as_of=OCU_AS_OF
    )
    assert keys(result, "resource_id") == [(endpoint_arn("alpha"),), (endpoint_arn("zeta"),)]


def test_endpoint_deleted_before_window(detections):
    rows = [hosting("2026-10-05"), hosting("2026-10-07")]
    result = run_detection(
        detections["idle_sagemaker_endpoint"], rows, billing_period="2026-10", as_of=OCU_AS_OF
    )
    assert result.rows == []


def test_endpoint_ignores_non_hosting_meters(detections):
    rows = [
        hosting("2026-10-08", meter="USE1-Train:ml.m5.large"),
        hosting("2026-10-08", resourceid=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:notebook-instance/nb"),
    ]
    result = run_detection(
        detections["idle_sagemaker_endpoint"], rows, billing_period="2026-10", as_of=OCU_AS_OF
    )
    assert result.rows == []


def test_endpoint_below_min_cost(detections):
    rows = [hosting("2026-10-08", cost=0.5)]
    result = run_detection(
        detections["idle_sagemaker_endpoint"], rows, billing_period="2026-10", as_of=OCU_AS_OF
    )
    assert result.rows == []


# commitment_drift: billing period 2026-10 up to the end of the as_of day, previous period 2026-09.
SP = "arn:aws:savingsplans::999999999999:savingsplan/sp-1"


def covered(day: str, cost: float, status: str = "Used", commitment: str = SP):
    return row(
        start=f"{day} 00:00:00",
        billedcost=0.0,
        effectivecost=cost,
        pricingcategory="Committed",
        commitmentdiscountid=commitment,
        commitmentdiscountstatus=status,
        commitmentdiscounttype="Compute Savings Plan",
        commitmentdiscountcategory="Spend",
    )


def purchase(day: str, cost: float, frequency: str = "Recurring", commitment: str = SP):
    return row(
        start=f"{day} 00:00:00",
        chargecategory="Purchase",
        chargefrequency=frequency,
        billedcost=cost,
        effectivecost=0.0,
        commitmentdiscountid=commitment,
        x_servicecode="ComputeSavingsPlans",
    )


def drift(detections, rows, as_of=dt.date(2026, 10, 15), **thresholds):
    return run_detection(
        detections["commitment_drift"], rows, billing_period="2026-10", as_of=as_of, **thresholds
    )


def test_commitment_low_utilization(detections):
    result = drift(detections, [covered("2026-10-02", 60.0), covered("2026-10-03", 40.0, "Unused")])
    assert keys(result, "commitment_discount_id", "first_seen", "amount") == [
        (SP, "2026-10-02 00:00:00", 40.0)
    ]
    evidence = result.evidence()
    assert evidence["utilization"] == "0.6000"
    assert evidence["reasons"] == "below_min_utilization"


def test_commitment_drop_against_previous_period(detections):
    rows = [covered("2026-09-10", 100.0), covered("2026-10-02", 85.0), covered("2026-10-02", 15.0, "Unused")]
    result = drift(detections, rows)
    assert keys(result, "amount") == [(15.0,)]
    evidence = result.evidence()
    assert evidence["reasons"] == "utilization_drop"
    assert evidence["previous_utilization"] == "1.0000"


def test_commitment_purchase_mismatch(detections):
    rows = [purchase("2026-10-01", 100.0), covered("2026-10-01", 80.0)]
    result = drift(detections, rows)
    assert keys(result, "amount") == [(20.0,)]
    evidence = result.evidence()
    assert evidence["reasons"] == "purchase_mismatch"
    assert evidence["reconcile_gap"] == "-20.00"


def test_commitment_first_day_of_month(detections):
    rows = [
        covered("2026-10-01", 1.0),
        covered("2026-10-01", 1.0, "Unused"),
        covered("2026-10-02", 0.0, "Unused"),
    ]
    result = drift(detections, rows, as_of=dt.date(2026, 10, 1))
    assert keys(result, "first_seen", "amount") == [("2026-10-01 00:00:00", 1.0)]
    assert result.evidence()["utilization"] == "0.5000"


def test_commitment_healthy(detections):
    rows = [covered("2026-09-10", 95.0), covered("2026-09-10", 5.0, "Unused")]
    rows += [covered("2026-10-02", 90.0), covered("2026-10-02", 10.0, "Unused")]
    assert drift(detections, rows).rows == []


def test_commitment_reconciled_within_tolerance(detections):
    rows = [purchase("2026-10-01", 100.0), covered("2026-10-01", 99.0)]
    assert drift(detections, rows).rows == []


def test_commitment_one_time_purchase_skips_reconcile(detections):
    rows = [
        purchase("2026-10-01", 1000.0, "One-Time"),
        purchase("2026-10-01", 50.0),
        covered("2026-10-01", 100.0),
    ]
    assert drift(detections, rows).rows == []


def test_commitment_rows_after_window_ignored(detections):
    rows = [covered("2026-10-02", 100.0), covered("2026-10-20", 100.0, "Unused")]
    assert drift(detections, rows).rows == []
