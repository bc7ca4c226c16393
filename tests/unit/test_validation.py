"""Unit tests of the pure parts of delivery validation: schema diff, manifest, regression, report, suite."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from focus_pipeline.config import PipelineConfig
from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS, AWS_NULLABLE_GAPS
from focus_pipeline.validation import (
    REQUIRED_NOT_NULL_COLUMNS,
    UNEXPECTED_ROWS_LIMIT,
    AwsAccess,
    ColumnDiff,
    ValidationReport,
    arrow_type_to_hive,
    athena_sqlalchemy_url,
    build_expectation_suite,
    build_row_rules,
    build_stats_sql,
    build_violation_counts_sql,
    check_manifest,
    check_regression,
    diff_schema,
    duplicate_failures,
    failures_from_gx_result,
    normalise_type_name,
    period_bounds,
    read_file_schemas,
    report_key,
    rule_failures,
    schema_failures,
)

pytestmark = pytest.mark.unit

CANONICAL = dict(AWS_FOCUS_1_2_COLUMNS)


def test_diff_schema_canonical_is_clean():
    diff = diff_schema(CANONICAL)
    assert diff.to_dict() == {"added": [], "missing": [], "retyped": {}}
    assert not diff.blocking


def test_diff_schema_ignores_case_as_glue_lowercases():
    diff = diff_schema({name.lower(): kind for name, kind in CANONICAL.items()})
    assert not diff.blocking
    assert diff.added == []


def test_diff_schema_added_column_is_drift():
    diff = diff_schema({**CANONICAL, "x_NewThing": "string"})
    assert diff.added == ["x_NewThing"]
    assert not diff.blocking


def test_diff_schema_same_count_missing_billed_cost():
    schema = {name: kind for name, kind in CANONICAL.items() if name != "BilledCost"}
    schema["x_Other"] = "double"
    assert len(schema) == len(CANONICAL)
    diff = diff_schema(schema)
    assert diff.missing == ["BilledCost"]
    assert diff.blocking
    assert "BilledCost missing" in diff.messages()
    failures = schema_failures(diff)
    assert failures[0]["column"] == "BilledCost"
    assert failures[0]["message"] == "BilledCost missing"


def test_diff_schema_struct_discounts_retyped():
    diff = diff_schema({**CANONICAL, "x_Discounts": "struct<bundled:double,total:double>"})
    assert diff.retyped == {
        "x_Discounts": {"found": "struct<bundled:double,total:double>", "expected": "map<string,double>"}
    }
    assert diff.messages() == [
        "x_Discounts is struct<bundled:double,total:double>, expected map<string,double>"
    ]


def test_diff_schema_accepts_trino_type_names():
    schema = {**CANONICAL, "Tags": "map(varchar, varchar)", "ChargePeriodStart": "timestamp(3)"}
    schema["BillingAccountId"] = "varchar"
    assert not diff_schema(schema).blocking


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("VARCHAR(12)", "string"),
        ("timestamp(6)", "timestamp"),
        ("map(varchar, double)", "map<string,double>"),
        ("map<string, string>", "map<string,string>"),
        ("double", "double"),
    ],
)
def test_normalise_type_name(name, expected):
    assert normalise_type_name(name) == expected


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.float64(), "double"),
        (pa.int64(), "bigint"),
        (pa.timestamp("ms", tz="UTC"), "timestamp"),
        (pa.timestamp("us"), "timestamp"),
        (pa.map_(pa.string(), pa.float64()), "map<string,double>"),
        (pa.struct([("total", pa.float64())]), "struct<total:double>"),
        (pa.null(), "void"),
        (pa.decimal128(18, 6), "decimal(18,6)"),
    ],
)
def test_arrow_type_to_hive(arrow_type, expected):
    assert arrow_type_to_hive(arrow_type) == expected


def test_read_file_schemas_reads_footers(tmp_path):
    table = pa.table(
        {
            "BilledCost": pa.array([1.0, 2.0]),
            "Tags": pa.array([[("a", "b")], None], type=pa.map_(pa.string(), pa.string())),
        }
    )
    pq.write_table(table, tmp_path / "a.parquet")
    pq.write_table(table.slice(0, 1), tmp_path / "b.parquet")
    other = pa.table({"BilledCost": pa.array(["1"])})
    pq.write_table(other, tmp_path / "c.parquet")
    paths = [str(tmp_path / name) for name in ("a.parquet", "b.parquet", "c.parquet")]

    schema, rows, disagreements = read_file_schemas(paths, pafs.LocalFileSystem())

    assert schema == {"BilledCost": "double", "Tags": "map<string,string>"}
    assert rows == 4
    assert len(disagreements) == 1
    assert "c.parquet" in disagreements[0]


def test_check_manifest_complete():
    staged = [{"key": "focus/snapshots/x/focus-00001.snappy.parquet", "size": 10}]
    manifest = ["s3://exports/data/BILLING_PERIOD=2026-04/focus-00001.snappy.parquet"]
    assert check_manifest(staged, manifest) == []


def test_check_manifest_missing_empty_and_extra():
    staged = [
        {"key": "snap/focus-00001.snappy.parquet", "size": 0},
        {"key": "snap/part-00000.parquet.tmp", "size": 5},
    ]
    manifest = ["s3://e/d/focus-00001.snappy.parquet", "s3://e/d/focus-00002.snappy.parquet"]
    failures = check_manifest(staged, manifest)
    checks = [failure["expectation"] for failure in failures]
    assert checks == ["manifest_file_not_empty", "manifest_file_staged", "no_extra_files"]
    assert "focus-00002.snappy.parquet" in failures[1]["message"]
    assert "part-00000.parquet.tmp" in failures[2]["message"]


def test_regression_shrunk_delivery_held_back():
    current = {"rows": 900, "usage_cost": 450.0, "max_charge_period_start": "2026-04-09 00:00:00"}
    stats = {"rows": 500, "usage_cost": 250.0, "max_charge_period_start": "2026-04-05 00:00:00"}
    messages = check_regression(stats, current, 0.02)
    assert len(messages) == 3
    assert "max ChargePeriodStart went back" in messages[0]
    assert "row count shrank from 900 to 500" in messages[1]
    assert "Usage BilledCost shrank from 450.0 to 250.0" in messages[2]


def test_regression_ignores_month_end_credit():
    current = {
        "rows": 1000,
        "billed_cost": 500.0,
        "usage_cost": 500.0,
        "max_charge_period_start": "2026-04-30",
    }
    stats = {"rows": 1001, "billed_cost": 450.0, "usage_cost": 500.0, "max_charge_period_start": "2026-04-30"}
    assert check_regression(stats, current, 0.02) == []


def test_regression_small_restatement_passes():
    current = {"rows": 1000, "usage_cost": 500.0, "max_charge_period_start": "2026-04-09 00:00:00"}
    stats = {"rows": 995, "usage_cost": 495.0, "max_charge_period_start": "2026-04-09 00:00:00"}
    assert check_regression(stats, current, 0.02) == []


def test_regression_without_current_or_empty_current():
    stats = {"rows": 0, "billed_cost": 0.0, "max_charge_period_start": None}
    assert check_regression(stats, None, 0.02) == []
    empty = {"rows": 0, "billed_cost": 0.0, "max_charge_period_start": None}
    assert check_regression(stats, empty, 0.02) == []


def test_regression_ignores_negative_total_baseline():
    current = {"rows": 3, "usage_cost": -10.0, "max_charge_period_start": "2026-04-02 00:00:00"}
    stats = {"rows": 3, "usage_cost": -20.0, "max_charge_period_start": "2026-04-02 00:00:00"}
    assert check_regression(stats, current, 0.02) == []


def test_period_bounds_december_and_invalid():
    assert period_bounds("2026-12")[1].isoformat() == "2027-01-01"
    assert period_bounds("2026-04")[0].isoformat() == "2026-04-01"
    with pytest.raises(ValueError, match="expected YYYY-MM"):
        period_bounds("2026-4")
    with pytest.raises(ValueError, match="month must be 01 to 12"):
        period_bounds("2026-13")


def test_report_round_trip_and_summary():
    report = ValidationReport(
        billing_period="2026-04",
        delivery="20260401T080000Z-abc",
        execution_id="abc",
        success=False,
        outcome="failed",
        failures=[
            {
                "expectation": "no_duplicate_rows",
                "column": None,
                "message": "20 duplicate rows",
                "observed": 20,
            }
        ],
        warnings=["added column x_NewThing (drift)"],
        stats={"rows": 1020, "billed_cost": 10.0, "max_charge_period_start": None, "duplicate_rows": 20},
        column_diff=ColumnDiff(added=["x_NewThing"]).to_dict(),
    )
    assert ValidationReport.from_dict(report.to_dict()) == report
    summary = report.summary()
    assert "no_duplicate_rows: 20 duplicate rows" in summary
    assert "x_NewThing" in summary
    assert "failed" in summary.splitlines()[0]


def test_summary_of_empty_delivery_says_no_charges_yet():
    report = ValidationReport("2026-05", "d", "e", True, "passed", stats={"rows": 0, "billed_cost": 0.0})
    assert "no charges yet" in report.summary()


def test_required_not_null_excludes_aws_gaps():
    assert not set(REQUIRED_NOT_NULL_COLUMNS) & AWS_NULLABLE_GAPS
    assert "BilledCost" in REQUIRED_NOT_NULL_COLUMNS
    assert "ChargePeriodStart" in REQUIRED_NOT_NULL_COLUMNS
    assert "ResourceId" not in REQUIRED_NOT_NULL_COLUMNS


def test_stats_sql_filters_partition_and_groups_all_columns():
    import sqlglot

    sql = build_stats_sql(PipelineConfig(), "2026-04", "20260401T080000Z-abc", list(CANONICAL))
    tree = sqlglot.parse_one(sql, read="trino")
    assert tree is not None
    assert "billing_period = '2026-04' AND delivery = '20260401T080000Z-abc'" in sql
    assert '"x_discounts"' in sql
    assert "HAVING count(*) > 1" in sql


def test_expectation_suite_is_one_row_rules_expectation():
    suite = build_expectation_suite("2026-04", list(CANONICAL))
    assert [expectation.meta["check"] for expectation in suite.expectations] == ["row_rules"]
    query = suite.expectations[0].unexpected_rows_query
    assert "{batch}" in query
    assert query.endswith(f"LIMIT {UNEXPECTED_ROWS_LIMIT}")
    assert "TIMESTAMP '2026-04-01 00:00:00'" in query
    assert "TIMESTAMP '2026-05-01 00:00:00'" in query


def test_row_rules_contents():
    rules = build_row_rules("2026-04")
    checks = [rule.check for rule in rules]
    assert checks.count("not_null") == len(REQUIRED_NOT_NULL_COLUMNS)
    assert checks.count("value_set") == 5
    period = next(rule for rule in rules if rule.check == "charge_period_start_in_billing_period")
    assert "TIMESTAMP '2026-04-01 00:00:00'" in period.violation
    assert "TIMESTAMP '2026-05-01 00:00:00'" in period.violation
    charge_class = next(rule for rule in rules if rule.column == "ChargeClass")
    assert charge_class.allowed == ("Correction",)
    assert charge_class.violation == '"chargeclass" IS NOT NULL AND "chargeclass" NOT IN (\'Correction\')'
    # Costs may be negative, so no rule bounds a cost column.
    assert not [rule for rule in rules if "Cost" in rule.column and rule.check != "not_null"]


def test_violation_counts_sql_counts_each_rule():
    import sqlglot

    rules = build_row_rules("2026-04")
    sql = build_violation_counts_sql(PipelineConfig(), "2026-04", "20260401T080000Z-abc", rules)
    tree = sqlglot.parse_one(sql, read="trino")
    names = [select.alias for select in tree.selects]
    value_sets = [i for i, rule in enumerate(rules) if rule.check == "value_set"]
    assert names[:2] == ["v0", "v1"]
    assert len(names) == len(rules) + len(value_sets)
    assert {f"s{i}" for i in value_sets} <= set(names)
    assert "billing_period = '2026-04' AND delivery = '20260401T080000Z-abc'" in sql


def test_rule_failures_from_counts():
    rules = build_row_rules("2026-04")
    index = {(rule.check, rule.column): i for i, rule in enumerate(rules)}
    category = index[("value_set", "ChargeCategory")]
    counts = {
        f"v{index[('not_null', 'BilledCost')]}": 4,
        f"v{category}": 2,
        f"s{category}": '["Refund"]',
        f"v{index[('charge_period_end_in_billing_period', 'ChargePeriodEnd')]}": 1,
    }
    failures = rule_failures(rules, counts)
    assert [(f["expectation"], f["column"]) for f in failures] == [
        ("not_null", "BilledCost"),
        ("value_set", "ChargeCategory"),
        ("charge_period_end_in_billing_period", "ChargePeriodEnd"),
    ]
    assert failures[0]["message"] == "BilledCost has 4 NULL values"
    assert failures[1]["message"] == "ChargeCategory has 2 values outside the allowed set, e.g. ['Refund']"
    assert failures[2]["message"] == "ChargePeriodEnd not after the end of 2026-04: 1 rows outside"
    assert failures[2]["observed"] == 1


def test_duplicate_failures_from_stats():
    assert duplicate_failures({"duplicate_rows": 0}) == []
    failures = duplicate_failures({"duplicate_rows": 20})
    assert failures[0]["expectation"] == "no_duplicate_rows"
    assert failures[0]["observed"] == 20
    assert failures[0]["message"].startswith("20 duplicate rows")


def test_failures_from_gx_result_row_rules():
    failed = {
        "success": False,
        "expectation_config": {"meta": {"check": "row_rules", "column": None}},
        "result": {"observed_value": 20},
    }
    counted = [{"expectation": "not_null", "column": "SkuId", "message": "m", "observed": 25}]
    assert failures_from_gx_result({"results": [failed]}, rule_violations=counted) == counted
    uncounted = failures_from_gx_result({"results": [failed]})
    assert uncounted[0]["expectation"] == "row_rules"
    assert uncounted[0]["message"] == "20 rows break a row rule"


def test_failures_from_gx_result_names_columns_and_counts():
    result = {
        "results": [
            {"success": True, "expectation_config": {"type": "x", "meta": {"check": "not_null"}}},
            {
                "success": False,
                "expectation_config": {"meta": {"check": "not_null", "column": "ChargePeriodStart"}},
                "result": {"unexpected_count": 1},
            },
            {
                "success": False,
                "expectation_config": {"meta": {"check": "no_duplicate_rows", "column": None}},
                "result": {"observed_value": 20},
            },
            {
                "success": False,
                "expectation_config": {"meta": {"check": "value_set", "column": "ChargeCategory"}},
                "result": {"unexpected_count": 2, "partial_unexpected_list": ["Refund", "Refund"]},
            },
        ]
    }
    failures = failures_from_gx_result(result, duplicate_rows=21)
    assert failures[0]["message"] == "ChargePeriodStart has 1 NULL values"
    assert failures[1]["observed"] == 21
    assert failures[1]["message"].startswith("21 duplicate rows")
    assert failures[2]["column"] == "ChargeCategory"
    assert "Refund" in failures[2]["message"]


def test_athena_url_has_endpoint_but_no_secret():
    access = AwsAccess("AKIDEXAMPLE", "secret-value", "token-value", "us-east-1", "http://127.0.0.1:5000")
    url = athena_sqlalchemy_url(PipelineConfig(), access)
    assert url.startswith("awsathena+rest://@athena.us-east-1.amazonaws.com:443/focus_billing?")
    assert "endpoint_url=http%3A%2F%2F127.0.0.1%3A5000" in url
    assert "work_group=focus-pipeline" in url
    assert "secret-value" not in url
    assert "AKIDEXAMPLE" not in url
    assert "secret-value" not in repr(access)


def test_report_key_beside_snapshot():
    key = report_key(PipelineConfig(), "2026-04", "20260401T080000Z-abc")
    assert key == "validation/billing_period=2026-04/delivery=20260401T080000Z-abc/validation.json"
