"""Tests of the FOCUS delivery generator: schema, values, snapshots, scenarios and commitments."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from focus_generator import (
    GeneratorConfig,
    arrow_schema,
    generate_history,
    generate_period,
    total_billed_cost,
)
from focus_generator import catalog as c
from focus_pipeline.focus_schema import ALLOWED_VALUES, AWS_FOCUS_1_0_COLUMNS, AWS_FOCUS_1_2_COLUMNS

pytestmark = pytest.mark.unit

CLEAN = GeneratorConfig()
ALL_SCENARIOS = GeneratorConfig(scenarios=c.SCENARIOS)


@pytest.fixture(scope="module")
def clean_history():
    return generate_history(CLEAN)


@pytest.fixture(scope="module")
def scenario_history():
    return generate_history(ALL_SCENARIOS)


def latest_per_period(deliveries) -> pa.Table:
    latest = {}
    for delivery in deliveries:
        latest[delivery.billing_period] = delivery.table
    return pa.concat_tables(latest.values())


def query(table: pa.Table, sql: str) -> list[tuple]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.register("focus", table)
    return connection.execute(sql).fetchall()


def new_pairs(table: pa.Table, column: str, config: GeneratorConfig) -> set[tuple]:
    """Return (account, value) pairs of usage first seen in the current billing period."""
    rows = query(
        table,
        f"""
        SELECT SubAccountId, {column} FROM focus
        WHERE ChargeCategory NOT IN ('Tax', 'Credit') AND {column} IS NOT NULL AND {column} <> 'global'
        GROUP BY 1, 2
        HAVING min(ChargePeriodStart) >= TIMESTAMPTZ '{config.current_period}-01 00:00:00+00'
        """,
    )
    return set(rows)


def egress_days(table: pa.Table) -> set[tuple]:
    rows = query(
        table,
        """
        SELECT SubAccountId, CAST(ChargePeriodStart AS DATE) AS day,
          sum(CASE WHEN SkuMeter LIKE '%DataTransfer-Out-Bytes' OR SkuMeter LIKE '%AWS-Out-Bytes'
              THEN BilledCost ELSE 0 END) AS egress,
          sum(CASE WHEN ServiceCategory = 'Compute' AND SkuMeter NOT LIKE '%Bytes'
              AND ChargeCategory = 'Usage' THEN EffectiveCost ELSE 0 END) AS compute
        FROM focus GROUP BY 1, 2
        HAVING egress > compute AND egress > 50
        """,
    )
    return {(account, day) for account, day, _, _ in rows}


def orphaned_ocu_accounts(table: pa.Table, config: GeneratorConfig) -> set[str]:
    day = config.scenario_day
    rows = query(
        table,
        f"""
        SELECT SubAccountId FROM focus
        WHERE CAST(ChargePeriodStart AS DATE) BETWEEN DATE '{day}' - 6 AND DATE '{day}'
        GROUP BY 1
        HAVING sum(CASE WHEN x_ServiceCode = 'AmazonES' AND SkuMeter LIKE '%OCU' THEN BilledCost END) > 1
          AND coalesce(sum(CASE WHEN x_ServiceCode LIKE 'AmazonBedrock%' OR ServiceName LIKE '%Bedrock%'
              THEN BilledCost END), 0) = 0
        """,
    )
    return {row[0] for row in rows}


def hosted_endpoints(table: pa.Table, config: GeneratorConfig) -> set[str]:
    day = config.scenario_day
    rows = query(
        table,
        f"""
        SELECT DISTINCT ResourceId FROM focus
        WHERE SkuMeter LIKE '%Host:%'
          AND CAST(ChargePeriodStart AS DATE) BETWEEN DATE '{day}' - 6 AND DATE '{day}'
        """,
    )
    return {row[0] for row in rows}


def utilization(table: pa.Table) -> dict[str, float]:
    rows = query(
        table,
        """
        SELECT strftime(BillingPeriodStart, '%Y-%m'),
          sum(CASE WHEN CommitmentDiscountStatus = 'Used' THEN EffectiveCost END)
            / sum(CASE WHEN CommitmentDiscountStatus IN ('Used', 'Unused') THEN EffectiveCost END)
        FROM focus WHERE CommitmentDiscountId = ? GROUP BY 1
        """.replace("?", f"'{c.COMMITMENT_ID}'"),
    )
    return dict(rows)


def test_schema_matches_aws_focus_1_2(clean_history):
    table = clean_history[-1].table
    assert table.schema == arrow_schema("1.2")
    assert table.column_names == list(AWS_FOCUS_1_2_COLUMNS)
    assert len(table.column_names) == 60
    assert table.schema.field("ChargePeriodStart").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("Tags").type == pa.map_(pa.string(), pa.string())
    assert table.schema.field("x_Discounts").type == pa.map_(pa.string(), pa.float64())


def test_focus_1_0_version_has_48_columns():
    table = generate_period(GeneratorConfig(focus_version="1.0"), "2026-03")
    assert table.column_names == list(AWS_FOCUS_1_0_COLUMNS)
    assert len(table.column_names) == 48
    meters = table.column("x_UsageType").to_pylist()
    assert any(meter.endswith("BoxUsage:m6i.large") for meter in meters)


def test_enumerated_values_allowed(clean_history):
    table = latest_per_period(clean_history)
    for column, allowed in ALLOWED_VALUES.items():
        present = set(pc.unique(table.column(column)).to_pylist())
        assert present <= allowed, column
    assert set(pc.unique(table.column("ChargeCategory")).to_pylist()) == {
        "Usage",
        "Purchase",
        "Tax",
        "Credit",
    }


def test_account_ids_are_12_digit_strings(clean_history):
    ids = set(pc.unique(clean_history[-1].table.column("SubAccountId")).to_pylist())
    assert ids == set(c.account_ids(6))
    assert all(len(value) == 12 and value.isdigit() for value in ids)
    assert any(value.startswith("0") for value in ids)


def test_charge_periods_inside_billing_period(clean_history):
    for delivery in clean_history:
        table = delivery.table
        start = pc.min(table.column("ChargePeriodStart")).as_py()
        end = pc.max(table.column("ChargePeriodEnd")).as_py()
        assert start >= pc.min(table.column("BillingPeriodStart")).as_py()
        assert end <= pc.max(table.column("BillingPeriodEnd")).as_py()
        assert start.strftime("%Y-%m") == delivery.billing_period


def test_same_seed_same_table():
    first = generate_period(CLEAN, "2026-04")
    second = generate_period(GeneratorConfig(), "2026-04")
    assert first.equals(second)


def test_other_seed_other_costs():
    first = generate_period(CLEAN, "2026-04")
    other = generate_period(GeneratorConfig(seed=7), "2026-04")
    assert total_billed_cost(first) != total_billed_cost(other)


def test_history_order_and_counts(clean_history):
    periods = [delivery.billing_period for delivery in clean_history]
    assert periods == ["2026-03", "2026-04", "2026-05", "2026-05", "2026-05"]
    times = [delivery.delivered_at for delivery in clean_history]
    assert times == sorted(times)
    assert times[-1] == datetime(2026, 5, 20, 20, tzinfo=UTC)
    assert len({delivery.execution_id for delivery in clean_history}) == 5


def test_later_snapshot_contains_earlier_rows(clean_history):
    keys = "SubAccountId, ResourceId, SkuMeter, ChargeCategory, ChargePeriodStart, CommitmentDiscountStatus"
    earlier, later = clean_history[2].table, clean_history[4].table
    assert later.num_rows > earlier.num_rows
    connection = duckdb.connect()
    connection.register("earlier", earlier)
    connection.register("later", later)
    missing = connection.execute(
        f"SELECT count(*) FROM (SELECT {keys} FROM earlier EXCEPT ALL SELECT {keys} FROM later)"
    ).fetchone()[0]
    revised = connection.execute(
        f"SELECT count(*) FROM (SELECT {keys}, BilledCost FROM earlier "
        f"EXCEPT ALL SELECT {keys}, BilledCost FROM later)"
    ).fetchone()[0]
    assert missing == 0
    assert 0 < revised < earlier.num_rows * 0.05


def test_tax_rows_have_null_keys(clean_history):
    table = clean_history[-1].table
    tax = table.filter(pc.equal(table.column("ChargeCategory"), "Tax"))
    assert tax.num_rows > 0
    for name in ("ResourceId", "CommitmentDiscountId", "SkuId"):
        assert tax.column(name).null_count == tax.num_rows, name


def test_commitment_rows_follow_focus_semantics(clean_history):
    table = clean_history[-1].table
    purchase = table.filter(pc.equal(table.column("ChargeCategory"), "Purchase"))
    assert purchase.num_rows > 0
    assert set(purchase.column("ChargeFrequency").to_pylist()) == {"Recurring"}
    assert set(purchase.column("EffectiveCost").to_pylist()) == {0.0}
    assert min(purchase.column("BilledCost").to_pylist()) > 0
    used = table.filter(pc.equal(table.column("CommitmentDiscountStatus"), "Used"))
    assert set(used.column("BilledCost").to_pylist()) == {0.0}
    assert set(used.column("PricingCategory").to_pylist()) == {"Committed"}
    assert min(used.column("EffectiveCost").to_pylist()) > 0
    unused = table.filter(pc.equal(table.column("CommitmentDiscountStatus"), "Unused"))
    assert set(unused.column("ChargeCategory").to_pylist()) == {"Usage"}


def test_transfer_rows_keep_service(clean_history):
    table = clean_history[-1].table
    rows = query(
        table,
        "SELECT DISTINCT ServiceName, ServiceCategory FROM focus "
        "WHERE SkuMeter LIKE '%DataTransfer-Out-Bytes'",
    )
    assert set(rows) == {("Amazon Elastic Compute Cloud", "Compute")}


def test_global_services_have_global_or_null_region(clean_history):
    table = clean_history[-1].table
    rows = dict(
        query(
            table,
            "SELECT x_ServiceCode, any_value(RegionId) FROM focus "
            "WHERE x_ServiceCode IN ('AmazonRoute53', 'AmazonCloudFront') GROUP BY 1",
        )
    )
    assert rows == {"AmazonRoute53": "global", "AmazonCloudFront": None}


def test_sku_price_details_map_null_and_empty(clean_history):
    details = clean_history[-1].table.column("SkuPriceDetails").to_pylist()
    assert None in details
    assert [] in details
    assert ("InstanceType", "m6i.2xlarge") in {pair for value in details if value for pair in value}


def test_clean_history_has_no_new_region(clean_history):
    assert new_pairs(latest_per_period(clean_history), "RegionId", CLEAN) == set()


def test_clean_history_has_no_new_service(clean_history):
    assert new_pairs(latest_per_period(clean_history), "x_ServiceCode", CLEAN) == set()


def test_clean_history_has_no_egress_spike(clean_history):
    assert egress_days(latest_per_period(clean_history)) == set()


def test_clean_history_has_no_orphaned_ocu(clean_history):
    assert orphaned_ocu_accounts(latest_per_period(clean_history), CLEAN) == set()


def test_clean_history_hosts_only_busy_endpoint(clean_history):
    assert hosted_endpoints(latest_per_period(clean_history), CLEAN) == {c.BUSY_ENDPOINT_ARN}


def test_clean_commitment_near_95_percent(clean_history):
    for period, value in utilization(latest_per_period(clean_history)).items():
        assert value == pytest.approx(0.95, abs=0.01), period


def test_scenario_new_region(scenario_history):
    found = new_pairs(latest_per_period(scenario_history), "RegionId", ALL_SCENARIOS)
    assert found == {(c.NEW_REGION_ACCOUNT, c.NEW_REGION)}


def test_scenario_new_service(scenario_history):
    found = new_pairs(latest_per_period(scenario_history), "x_ServiceCode", ALL_SCENARIOS)
    assert found == {(c.NEW_SERVICE_ACCOUNT, c.NEW_SERVICE_CODE)}


def test_scenario_egress_spike(scenario_history):
    found = egress_days(latest_per_period(scenario_history))
    assert found == {(c.EGRESS_ACCOUNT, ALL_SCENARIOS.scenario_day)}


def test_scenario_orphaned_search_ocu(scenario_history):
    table = latest_per_period(scenario_history)
    assert orphaned_ocu_accounts(table, ALL_SCENARIOS) == {c.ORPHANED_OCU_ACCOUNT}
    regions = query(
        table,
        "SELECT DISTINCT x_ServiceCode, RegionId FROM focus "
        f"WHERE SubAccountId = '{c.OCU_WITH_BEDROCK_ACCOUNT}' "
        "AND x_ServiceCode IN ('AmazonES', 'AmazonBedrock')",
    )
    assert set(regions) == {("AmazonES", c.OCU_REGION), ("AmazonBedrock", c.BEDROCK_OTHER_REGION)}


def test_scenario_idle_endpoint(scenario_history):
    found = hosted_endpoints(latest_per_period(scenario_history), ALL_SCENARIOS)
    assert found == {c.BUSY_ENDPOINT_ARN, c.IDLE_ENDPOINT_ARN}
    assert c.IDLE_ENDPOINT_ARN.startswith(f"arn:aws:sagemaker:us-east-1:{c.SAGEMAKER_ACCOUNT}:endpoint/")


def test_scenario_commitment_drift(scenario_history):
    values = utilization(latest_per_period(scenario_history))
    assert values["2026-04"] == pytest.approx(0.95, abs=0.01)
    assert values["2026-05"] == pytest.approx(0.60, abs=0.01)


def test_scenario_labels_on_current_period(scenario_history):
    assert scenario_history[-1].scenarios == set(c.SCENARIOS)
    assert scenario_history[0].scenarios == set()


def test_bedrock_third_party_model_billed(clean_history):
    names = set(pc.unique(clean_history[-1].table.column("ServiceName")).to_pylist())
    assert "Claude 3.5 Sonnet (Amazon Bedrock Edition)" in names
    assert "Amazon Bedrock" in names


def test_hourly_granularity_rows_per_hour():
    config = GeneratorConfig(granularity="hourly", months=1, start_period="2026-05")
    table = generate_period(config, "2026-05")
    durations = pc.subtract(table.column("ChargePeriodEnd"), table.column("ChargePeriodStart"))
    assert set(pc.unique(durations).to_pylist()) == {pa.scalar(3_600_000, pa.duration("ms")).as_py()}


def test_rows_scale_multiplies_rows():
    small = generate_period(GeneratorConfig(accounts=8), "2026-03")
    large = generate_period(GeneratorConfig(accounts=8, rows_scale=4.0), "2026-03")
    assert large.num_rows > 1.5 * small.num_rows


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"granularity": "weekly"}, "granularity"),
        ({"scenarios": {"no_such"}}, "unknown scenarios"),
        ({"faults": {"no_such"}}, "unknown faults"),
        ({"accounts": 3, "scenarios": {"new_region"}}, "at least 6 accounts"),
        ({"start_period": "2026/03"}, "YYYY-MM"),
        ({"as_of": datetime(2026, 5, 1)}, "time zone"),
        ({"as_of": datetime(2026, 3, 5, tzinfo=UTC)}, "falls before"),
        ({"regions": ("mars-north-1",)}, "unknown regions"),
    ],
)
def test_invalid_config_rejected(changes, message):
    with pytest.raises(ValueError, match=message):
        GeneratorConfig(**changes)
