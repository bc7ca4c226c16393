"""commitment_drift on the FOCUS 1.2 specification's commitment examples (skipped when absent).

The CSVs contain quirks read tolerantly here: literal ``null``, blank lines, a ``SkuPriceid`` header,
and a ChargePeriodEnd of ``T30:00:00Z`` (read as NULL). The minimum utilisation is set above 1 so
every commitment with a defined utilisation is returned and its utilisation can be checked.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from tests.sql.conftest import COLUMNS, run_detection

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "focus_spec_v1.2_examples"
COMMITMENT = "<my-commitment-discount-id>"
TIMESTAMP_COLUMNS = {"billingperiodstart", "billingperiodend", "chargeperiodstart", "chargeperiodend"}

# File -> (utilisation, reasons) from the spec's own numbers; None means no row is returned.
EXPECTED: dict[str, tuple[str | None, str] | None] = {
    # One-time purchase of 8,760.00 and no usage rows: no utilisation, nothing to reconcile.
    "commitment_discount_purchase_scenario_1.csv": None,
    # Three recurring purchases of 1.00 and no amortised rows: 0.00 against 3.00 does not reconcile.
    "commitment_discount_purchase_scenario_2.csv": (None, "purchase_mismatch"),
    # One-time plus recurring purchases (partial upfront) and no usage rows: nothing to check.
    "commitment_discount_purchase_scenario_3.csv": None,
    # Used 1.00 of 1.00.
    "commitment_discount_usage_scenario_1.csv": ("1.0000", "below_min_utilization"),
    # Unused 1.00 of 1.00.
    "commitment_discount_usage_scenario_2.csv": ("0.0000", "below_min_utilization"),
    # Used 0.75, Unused 0.25.
    "commitment_discount_usage_scenario_3.csv": ("0.7500", "below_min_utilization"),
    # Used 1.00, plus an on-demand row without a commitment.
    "commitment_discount_usage_scenario_4.csv": ("1.0000", "below_min_utilization"),
    # Recurring purchase 0.50, Used 0.50: full and reconciled.
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv": (
        "1.0000",
        "below_min_utilization",
    ),
    # Recurring purchase 2.00, Used 1.00 + 1.00.
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv": (
        "1.0000",
        "below_min_utilization",
    ),
    # Recurring purchase 1.50, Used 1.50.
    "one_hundred_percent_utilization_without_commitment_discount_flexibility.csv": (
        "1.0000",
        "below_min_utilization",
    ),
    # Recurring purchase 1.50, Unused 1.50: reconciled, utilisation 0.
    "zero_percent_utilization_without_commitment_discount_flexibility.csv": (
        "0.0000",
        "below_min_utilization",
    ),
}


def read_example(path: Path) -> list[dict]:
    frame = pd.read_csv(path, dtype=str, na_values=["null"], keep_default_na=False, skip_blank_lines=True)
    frame.columns = [name.lower() for name in frame.columns]
    rows = []
    for record in frame.to_dict(orient="records"):
        values = {}
        for name, value in record.items():
            if name not in COLUMNS or pd.isna(value):
                continue
            kind = COLUMNS[name]
            if name in TIMESTAMP_COLUMNS:
                parsed = pd.to_datetime(value, format="%Y-%m-%dT%H:%M:%SZ", errors="coerce")
                values[name] = None if pd.isna(parsed) else parsed.to_pydatetime()
            elif kind == "double":
                values[name] = float(value)
            else:
                values[name] = value
        values["billing_period"] = values["billingperiodstart"].strftime("%Y-%m")
        rows.append(values)
    return rows


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="FOCUS specification examples not available")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_example_utilization(detections, name):
    rows = read_example(EXAMPLES / name)
    result = run_detection(
        detections["commitment_drift"],
        rows,
        billing_period="2023-01",
        as_of=dt.date(2023, 1, 31),
        commitment_min_utilization=1.01,
    )
    expected = EXPECTED[name]
    if expected is None:
        assert result.rows == []
        return
    assert [r["commitment_discount_id"] for r in result.rows] == [COMMITMENT]
    evidence = json.loads(result.rows[0]["evidence"])
    assert evidence["utilization"] == expected[0]
    assert evidence["reasons"] == expected[1]


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="FOCUS specification examples not available")
def test_spec_examples_all_listed():
    assert {p.name for p in EXAMPLES.glob("*.csv")} == set(EXPECTED)


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="FOCUS specification examples not available")
def test_spec_example_impossible_hour_read_as_null():
    rows = read_example(EXAMPLES / "commitment_discount_purchase_scenario_2.csv")
    assert [r["chargeperiodend"] for r in rows][2] is None
    assert len(rows) == 3
