"""Tests of the generator's faults, its Data Exports writer (local folder) and its command line."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from focus_generator import (
    GeneratorConfig,
    apply_fault,
    generate_history,
    total_billed_cost,
    write_delivery,
)
from focus_generator.__main__ import check_endpoint, main
from focus_generator.faults import BILLED_COST_STAND_IN, EXTRA_COLUMN
from focus_generator.writer import TEST_OBJECT, TMP_FILE

pytestmark = pytest.mark.unit

CONFIG = GeneratorConfig(deliveries_in_last_day=2)


@pytest.fixture(scope="module")
def history():
    return generate_history(CONFIG)


@pytest.fixture
def delivery(history):
    return history[-1]


def test_duplicate_rows_adds_20_tax_duplicates(delivery):
    broken = apply_fault(delivery, "duplicate_rows")
    table = broken.table
    assert table.num_rows == delivery.table.num_rows + 20
    extra = table.slice(delivery.table.num_rows)
    assert set(extra.column("ChargeCategory").to_pylist()) == {"Tax"}
    for name in ("ResourceId", "CommitmentDiscountId", "SkuId"):
        assert extra.column(name).null_count == 20, name
    assert broken.faults == {"duplicate_rows"}
    assert delivery.faults == set()


def test_struct_discounts_is_struct(delivery):
    table = apply_fault(delivery.table, "struct_discounts")
    assert pa.types.is_struct(table.schema.field("x_Discounts").type)
    assert table.num_columns == 60


def test_extra_column_named(delivery):
    table = apply_fault(delivery.table, "extra_column")
    assert table.column_names[-1] == EXTRA_COLUMN
    assert table.num_columns == 61


def test_missing_billed_cost_keeps_count(delivery):
    table = apply_fault(delivery.table, "missing_billed_cost")
    assert "BilledCost" not in table.column_names
    assert BILLED_COST_STAND_IN in table.column_names
    assert table.num_columns == 60


def test_truncated_has_fewer_days(delivery):
    broken = apply_fault(delivery, "truncated", seed=1)
    assert broken.delivered_at > delivery.delivered_at
    assert broken.execution_id != delivery.execution_id
    assert broken.table.num_rows < delivery.table.num_rows
    later_max = pc.max(broken.table.column("ChargePeriodStart")).as_py()
    assert later_max < pc.max(delivery.table.column("ChargePeriodStart")).as_py()


def test_empty_has_other_types(delivery):
    table = apply_fault(delivery.table, "empty")
    assert table.num_rows == 0
    assert table.schema.field("BilledCost").type == pa.int32()
    assert table.schema.field("SubAccountId").type == pa.null()


def test_string_timestamps_mixed_forms(delivery):
    table = apply_fault(delivery.table, "string_timestamps")
    values = table.column("ChargePeriodStart").to_pylist()
    assert pa.types.is_string(table.schema.field("ChargePeriodStart").type)
    assert values[0].endswith("Z")
    assert values[1].endswith("+00:00")
    assert values[2].endswith(".123456")
    assert " " in values[2]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", values[0])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00", values[1])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.123456", values[2])


def test_int64_micro_timestamps(delivery):
    logical = apply_fault(delivery.table, "int64_micro_timestamps")
    plain = apply_fault(delivery.table, "int64_micro_timestamps", logical=False)
    assert logical.schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert plain.schema.field("ChargePeriodStart").type == pa.int64()
    original = delivery.table.column("ChargePeriodStart").cast(pa.int64())
    assert plain.column("ChargePeriodStart").to_pylist()[0] == original.to_pylist()[0] * 1000


def test_focus_1_0_fault(delivery):
    broken = apply_fault(delivery, "focus_1_0")
    assert broken.focus_version == "1.0"
    assert "x_UsageType" in broken.table.column_names
    assert "SkuMeter" not in broken.table.column_names


def test_sku_price_details_fault(delivery):
    table = apply_fault(delivery.table, "sku_price_details")
    details = table.column("SkuPriceDetails").to_pylist()
    assert [("CoreCount", "8"), ("InstanceType", "m6i.2xlarge")] in details
    assert None in details
    assert [] in details


def test_purchase_and_credit_nets_250(delivery):
    table = apply_fault(delivery.table, "purchase_and_credit")
    assert total_billed_cost(table) == pytest.approx(250.0)
    purchase = table.filter(pc.equal(table.column("ChargeCategory"), "Purchase"))
    assert purchase.column("BilledCost").to_pylist() == [1000.0]
    assert purchase.column("EffectiveCost").to_pylist() == [0.0]
    credit = table.filter(pc.equal(table.column("ChargeCategory"), "Credit"))
    assert credit.column("BilledCost").to_pylist() == [-1000.0]


def test_layout_fault_rejects_table(delivery):
    with pytest.raises(ValueError, match="pass a Delivery"):
        apply_fault(delivery.table, "tmp_file_only")


def test_unknown_fault_rejected(delivery):
    with pytest.raises(ValueError, match="Unknown fault"):
        apply_fault(delivery, "no_such_fault")


def test_write_layout_create_new_report(history, tmp_path):
    delivery = history[-1]
    manifest = write_delivery(delivery, target=tmp_path, config=CONFIG, files=3)
    root = tmp_path / "exports" / "focus-export"
    folder = root / "data" / "BILLING_PERIOD=2026-05" / delivery.snapshot_folder
    names = sorted(path.name for path in folder.iterdir())
    assert names == [f"focus-export-0000{n}.snappy.parquet" for n in (1, 2, 3)]
    assert delivery.snapshot_folder == f"2026-05-20T20:00:00.000Z-{delivery.execution_id}"
    manifest_path = root / "metadata" / "BILLING_PERIOD=2026-05" / "focus-export-Manifest.json"
    assert json.loads(manifest_path.read_text()) == manifest
    assert set(manifest) == {"executionId", "exportArn", "columns", "dataFiles", "additionalOutputFiles"}
    assert manifest["executionId"] == delivery.execution_id
    assert manifest["additionalOutputFiles"] == []
    assert manifest["dataFiles"][0].startswith("s3://focus-billing-exports/exports/focus-export/data/")
    assert {"name": "Tags", "type": "map<string,string>"} in manifest["columns"]
    assert {"name": "ChargePeriodStart", "type": "timestamp"} in manifest["columns"]
    assert manifest_path.stat().st_mtime_ns >= max(p.stat().st_mtime_ns for p in folder.iterdir())
    read = pq.read_table(folder)
    assert read.num_rows == delivery.table.num_rows
    assert read.schema.field("ChargePeriodStart").type == pa.timestamp("ms", tz="UTC")


def test_write_overwrite_report_replaces_files(history, tmp_path):
    config = GeneratorConfig(deliveries_in_last_day=2, overwrite_mode="OVERWRITE_REPORT")
    write_delivery(history[-2], target=tmp_path, config=config, files=2)
    write_delivery(history[-1], target=tmp_path, config=config, files=1)
    folder = tmp_path / "exports" / "focus-export" / "data" / "BILLING_PERIOD=2026-05"
    assert sorted(path.name for path in folder.iterdir()) == ["focus-export-00001.snappy.parquet"]
    assert pq.read_table(folder).num_rows == history[-1].table.num_rows


def test_write_lower_case_partition_and_test_object(history, tmp_path):
    delivery = apply_fault(apply_fault(history[-1], "lower_case_partition"), "test_object")
    write_delivery(delivery, target=tmp_path, config=CONFIG)
    root = tmp_path / "exports" / "focus-export"
    assert (root / TEST_OBJECT).is_file()
    assert (root / "data" / "billing_period=2026-05").is_dir()
    assert (root / "metadata" / "billing_period=2026-05" / "focus-export-Manifest.json").is_file()


def test_write_tmp_file_only(history, tmp_path):
    delivery = apply_fault(history[-1], "tmp_file_only")
    assert write_delivery(delivery, target=tmp_path, config=CONFIG) == {}
    root = tmp_path / "exports" / "focus-export"
    files = [path.name for path in root.rglob("*") if path.is_file()]
    assert files == [TMP_FILE]


def test_write_missing_data_file(history, tmp_path):
    delivery = apply_fault(history[-1], "missing_data_file")
    manifest = write_delivery(delivery, target=tmp_path, config=CONFIG)
    assert len(manifest["dataFiles"]) == 2
    assert len(delivery.data_keys) == 1
    missing = manifest["dataFiles"][1].removeprefix("s3://focus-billing-exports/")
    assert not (tmp_path / missing).exists()


def test_history_faults_applied(tmp_path):
    config = GeneratorConfig(faults={"focus_1_0", "truncated", "extra_column"}, deliveries_in_last_day=1)
    deliveries = generate_history(config)
    assert [d.focus_version for d in deliveries] == ["1.0", "1.0", "1.2", "1.2"]
    assert deliveries[-1].faults == {"extra_column", "truncated"}
    assert deliveries[-2].faults == {"extra_column"}


@pytest.mark.parametrize(
    "endpoint",
    ["http://10.0.0.5:4566", "https://s3.amazonaws.com", "http://169.254.169.254", "ftp://127.0.0.1"],
)
def test_cli_rejects_remote_endpoint(endpoint):
    with pytest.raises(ValueError, match="s3-endpoint"):
        check_endpoint(endpoint, [])


def test_cli_accepts_allowed_host():
    assert check_endpoint("http://moto:5000", ["moto"]) == "http://moto:5000"
    assert check_endpoint("http://localhost:5000", []) == "http://localhost:5000"


def test_cli_writes_folder(tmp_path, capsys):
    code = main(["--out", str(tmp_path), "--months", "2", "--deliveries", "1", "--scenario", "new_region"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert len(lines) == 2
    assert "new_region" in lines[-1]
    manifests = list(tmp_path.rglob("*-Manifest.json"))
    assert len(manifests) == 2
    assert datetime(2026, 4, 20, 20, tzinfo=UTC).isoformat() in lines[-1]


def test_dictionary_strings_write_plain_strings(tmp_path):
    from focus_generator import generate_period
    from focus_generator.generate import Delivery, arrow_schema

    table = generate_period(CONFIG, "2026-04", dictionary_strings=True)
    assert pa.types.is_dictionary(table.schema.field("ServiceName").type)
    delivery = Delivery(billing_period="2026-04", execution_id="e1", delivered_at=CONFIG.now, table=table)
    write_delivery(delivery, target=tmp_path, config=CONFIG)
    read = pq.read_table(tmp_path / delivery.data_keys[0])
    assert read.schema == arrow_schema("1.2")
    assert read.equals(generate_period(CONFIG, "2026-04"))
