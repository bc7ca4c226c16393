"""Break a clean delivery in one named way, as real exports and the tools around them do.

Table faults change the data: ``duplicate_rows``, ``struct_discounts``, ``extra_column``,
``missing_billed_cost``, ``truncated``, ``empty``, ``string_timestamps``,
``int64_micro_timestamps``, ``focus_1_0``, ``sku_price_details`` and ``purchase_and_credit``.
Layout faults only label the delivery, and ``write_delivery`` acts on the label:
``tmp_file_only``, ``missing_data_file``, ``lower_case_partition`` and ``test_object``.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from focus_generator import catalog as c
from focus_generator.generate import (
    FAULTS,
    Delivery,
    arrow_schema,
    execution_id,
    to_focus_1_0,
)

LAYOUT_FAULTS: frozenset[str] = frozenset(
    {"tmp_file_only", "missing_data_file", "lower_case_partition", "test_object"}
)
DUPLICATE_TAX_ROWS = 20
EXTRA_COLUMN = "x_NewThing"
# Column that replaces BilledCost in ``missing_billed_cost``, so the column count is unchanged.
BILLED_COST_STAND_IN = "x_BilledCostAmount"
STRING_TIMESTAMP_FORMS: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S+00:00",
    "%Y-%m-%d %H:%M:%S.123456",
)
SKU_PRICE_DETAILS_EXAMPLE: dict[str, str] = {"CoreCount": "8", "InstanceType": "m6i.2xlarge"}
PURCHASE_AMOUNT = 1000.0
USAGE_AMOUNT = 250.0


def apply_fault(delivery_or_table: Delivery | pa.Table, fault: str, *, seed: int = 0, **options: object):
    """Return a copy of a delivery (or table) broken in the way ``fault`` names.

    ``truncated`` on a delivery returns a new delivery one hour later, with a new execution id,
    that keeps only the first half of the days present (``options["days"]`` sets the count).
    ``int64_micro_timestamps`` writes a ``timestamp[us, UTC]`` column (Parquet INT64 with the
    TIMESTAMP(MICROS) annotation); ``logical=False`` writes plain int64 epoch microseconds instead.
    Raises ValueError for an unknown fault, or for a layout fault applied to a bare table.
    """
    if fault not in FAULTS:
        raise ValueError(f"Unknown fault {fault!r}; valid faults: {', '.join(sorted(FAULTS))}.")
    if isinstance(delivery_or_table, pa.Table):
        if fault in LAYOUT_FAULTS:
            raise ValueError(
                f"Fault {fault!r} changes how a delivery is written; pass a Delivery, not a table."
            )
        return _break_table(delivery_or_table, fault, **options)

    delivery = delivery_or_table
    table = delivery.table if fault in LAYOUT_FAULTS else _break_table(delivery.table, fault, **options)
    broken = dataclasses.replace(
        delivery,
        table=table,
        manifest={},
        data_keys=[],
        faults=set(delivery.faults) | {fault},
        scenarios=set(delivery.scenarios),
    )
    if fault == "focus_1_0":
        broken.focus_version = "1.0"
    if fault == "truncated":
        broken.delivered_at = delivery.delivered_at + timedelta(hours=1)
        broken.execution_id = execution_id(seed, delivery.billing_period, broken.delivered_at)
    return broken


def _break_table(table: pa.Table, fault: str, **options: object) -> pa.Table:
    handlers = {
        "duplicate_rows": _duplicate_tax_rows,
        "struct_discounts": _struct_discounts,
        "extra_column": lambda t: t.append_column(
            EXTRA_COLUMN, pa.repeat(pa.scalar("drift", pa.string()), t.num_rows)
        ),
        "missing_billed_cost": _missing_billed_cost,
        "truncated": lambda t: _truncate(t, options.get("days")),
        "empty": lambda t: _empty_first_of_month(),
        "string_timestamps": _string_timestamps,
        "int64_micro_timestamps": lambda t: _micro_timestamps(t, bool(options.get("logical", True))),
        "focus_1_0": to_focus_1_0,
        "sku_price_details": _sku_price_details,
        "purchase_and_credit": _purchase_and_credit,
    }
    return handlers[fault](table)


def _duplicate_tax_rows(table: pa.Table) -> pa.Table:
    tax = pc.equal(table.column("ChargeCategory"), "Tax")
    positions = np.flatnonzero(tax.to_numpy(zero_copy_only=False))
    if len(positions) == 0:
        raise ValueError(
            "Fault duplicate_rows needs Tax rows, and the table has none; generate at least one day."
        )
    for name in ("ResourceId", "CommitmentDiscountId", "SkuId"):
        if table.column(name).take(positions).null_count != len(positions):
            raise ValueError(f"Fault duplicate_rows expects Tax rows with a null {name}.")
    picked = np.resize(positions, DUPLICATE_TAX_ROWS)
    return pa.concat_tables([table, table.take(pa.array(picked))])


def _struct_discounts(table: pa.Table) -> pa.Table:
    """Replace the x_Discounts map by a struct with one double field per key."""
    column = table.column("x_Discounts").combine_chunks()
    keys = sorted(pc.unique(column.keys).to_pylist()) or ["SavingsPlanDiscount"]
    values = [pc.map_lookup(column, pa.scalar(key, pa.string()), "first") for key in keys]
    struct = pa.StructArray.from_arrays(values, names=keys)
    index = table.column_names.index("x_Discounts")
    return table.set_column(index, "x_Discounts", struct)


def _missing_billed_cost(table: pa.Table) -> pa.Table:
    index = table.column_names.index("BilledCost")
    return table.remove_column(index).append_column(BILLED_COST_STAND_IN, table.column("BilledCost"))


def _truncate(table: pa.Table, days: object) -> pa.Table:
    starts = table.column("ChargePeriodStart").cast(pa.timestamp("ms", tz="UTC"))
    day_values = pc.unique(pc.floor_temporal(starts, unit="day")).to_pylist()
    present = sorted(day for day in day_values if day is not None)
    if len(present) < 2:
        raise ValueError(f"Fault truncated needs at least 2 days of data, the table has {len(present)}.")
    keep = int(days) if days is not None else len(present) // 2
    if not 1 <= keep < len(present):
        raise ValueError(f"Fault truncated: days must be between 1 and {len(present) - 1}, got {keep}.")
    cutoff = present[keep]
    return table.filter(pc.less(starts, pa.scalar(cutoff, pa.timestamp("ms", tz="UTC"))))


def _empty_first_of_month() -> pa.Table:
    """Return 0 rows typed the way a writer infers types from no data: null and int32 columns."""
    fields = []
    for schema_field in arrow_schema("1.2"):
        if pa.types.is_floating(schema_field.type):
            arrow_type = pa.int32()
        elif pa.types.is_timestamp(schema_field.type):
            arrow_type = schema_field.type
        else:
            arrow_type = pa.null()
        fields.append(pa.field(schema_field.name, arrow_type))
    return pa.schema(fields).empty_table()


def _string_timestamps(table: pa.Table) -> pa.Table:
    starts = table.column("ChargePeriodStart").combine_chunks()
    # Arrow's %S prints the fraction of a sub-second timestamp, so whole seconds go in first.
    whole_seconds = pc.cast(starts, pa.timestamp("s", tz="UTC"))
    forms = [pc.strftime(whole_seconds, format=form) for form in STRING_TIMESTAMP_FORMS]
    choice = np.arange(table.num_rows) % len(forms)
    values = forms[0]
    for position in range(1, len(forms)):
        values = pc.if_else(pa.array(choice == position), forms[position], values)
    index = table.column_names.index("ChargePeriodStart")
    return table.set_column(index, "ChargePeriodStart", values)


def _micro_timestamps(table: pa.Table, logical: bool) -> pa.Table:
    index = table.column_names.index("ChargePeriodStart")
    micros = table.column("ChargePeriodStart").cast(pa.timestamp("us", tz="UTC"))
    if not logical:
        micros = micros.cast(pa.int64())
    return table.set_column(index, "ChargePeriodStart", micros)


def _sku_price_details(table: pa.Table) -> pa.Table:
    """Set SkuPriceDetails of the first three EC2 BoxUsage rows to the example map, null and empty."""
    meters = table.column("SkuMeter").to_pylist()
    positions = [i for i, meter in enumerate(meters) if meter and "BoxUsage" in meter][:3]
    if len(positions) < 3:
        raise ValueError("Fault sku_price_details needs 3 EC2 BoxUsage rows; generate more days or accounts.")
    details = table.column("SkuPriceDetails").to_pylist()
    details[positions[0]] = list(SKU_PRICE_DETAILS_EXAMPLE.items())
    details[positions[1]] = None
    details[positions[2]] = []
    index = table.column_names.index("SkuPriceDetails")
    column = pa.array(details, table.schema.field("SkuPriceDetails").type)
    return table.set_column(index, "SkuPriceDetails", column)


def _purchase_and_credit(table: pa.Table) -> pa.Table:
    """Return a table that nets to 250.00 USD: a Savings Plan purchase, its credit and usage.

    The purchase bills 1,000.00 with EffectiveCost 0, the credit for the same commitment bills
    -1,000.00, and five on-demand usage rows bill 50.00 each.
    """
    if table.num_rows == 0:
        raise ValueError(
            "Fault purchase_and_credit needs at least one row to copy periods and accounts from."
        )
    template = table.slice(0, 1).to_pylist()[0]
    rows = []
    purchase = dict(template)
    purchase.update(
        ChargeCategory="Purchase",
        ChargeFrequency="Recurring",
        PricingCategory="Standard",
        CommitmentDiscountId=c.COMMITMENT_ID,
        CommitmentDiscountStatus=None,
        BilledCost=PURCHASE_AMOUNT,
        EffectiveCost=0.0,
        ListCost=PURCHASE_AMOUNT,
        ContractedCost=PURCHASE_AMOUNT,
        ServiceName="Savings Plans for AWS Compute usage",
        x_ServiceCode="ComputeSavingsPlans",
    )
    rows.append(purchase)
    credit = dict(purchase)
    credit.update(
        ChargeCategory="Credit",
        ChargeFrequency="One-Time",
        PricingCategory=None,
        BilledCost=-PURCHASE_AMOUNT,
        EffectiveCost=-PURCHASE_AMOUNT,
        ListCost=-PURCHASE_AMOUNT,
        ContractedCost=-PURCHASE_AMOUNT,
    )
    rows.append(credit)
    for serial in range(5):
        usage = dict(template)
        share = USAGE_AMOUNT / 5
        usage.update(
            ChargeCategory="Usage",
            ChargeFrequency="Usage-Based",
            PricingCategory="Standard",
            CommitmentDiscountId=None,
            CommitmentDiscountStatus=None,
            BilledCost=share,
            EffectiveCost=share,
            ListCost=share,
            ContractedCost=share,
            ResourceId=f"i-0purchasecredit{serial}",
        )
        rows.append(usage)
    return pa.Table.from_pylist(rows, schema=table.schema)
