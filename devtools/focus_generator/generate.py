"""Generate FOCUS 1.2 (FOCUS_1_2_AWS) snapshots of billing periods, column-wise with numpy and pyarrow.

Each billing period is the expansion of the organisation's line items (``lineitems.py``) over the
charge periods (days or hours) of the month. Random draws are keyed by seed, billing period, line
item and charge period, so a later snapshot of a period holds every row of an earlier one with
the same values, except a few usage rows that were still preliminary in the earlier one (their
costs were 1.5% lower). A row becomes visible ``lag_hours`` after its charge period ends, which
is how month-to-date snapshots grow during a day.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from focus_generator import catalog as c
from focus_generator.lineitems import build_line_items, sku_id
from focus_pipeline.focus_schema import (
    AWS_FOCUS_1_0_COLUMNS,
    AWS_FOCUS_1_2_COLUMNS,
    DOUBLE,
    MAP_DOUBLE,
    MAP_STRING,
    STRING,
    TIMESTAMP,
)

log = logging.getLogger(__name__)

# AWS documents the period columns as timestamp_milliseconds in UTC.
TIMESTAMP_TYPE = pa.timestamp("ms", tz="UTC")
ARROW_TYPES: dict[str, pa.DataType] = {
    DOUBLE: pa.float64(),
    TIMESTAMP: TIMESTAMP_TYPE,
    STRING: pa.string(),
    MAP_STRING: pa.map_(pa.string(), pa.string()),
    MAP_DOUBLE: pa.map_(pa.string(), pa.float64()),
}
FAULTS: frozenset[str] = frozenset(
    {
        "duplicate_rows",
        "struct_discounts",
        "extra_column",
        "missing_billed_cost",
        "truncated",
        "empty",
        "string_timestamps",
        "int64_micro_timestamps",
        "tmp_file_only",
        "missing_data_file",
        "focus_1_0",
        "lower_case_partition",
        "test_object",
        "sku_price_details",
        "purchase_and_credit",
    }
)
_HOUR_MS = 3_600_000
# Share of usage rows that arrive with a preliminary cost, and how long they stay preliminary.
_PRELIMINARY_SHARE = 0.15
_PRELIMINARY_HOURS = 6
_PRELIMINARY_FACTOR = 0.985
# Covered usage costs this share of its on-demand list cost (a Savings Plan discount of 28%).
_COVERED_RATE = 0.72


def arrow_schema(focus_version: str = "1.2") -> pa.Schema:
    """Return the Arrow schema of an AWS FOCUS export: ``"1.2"`` (60 columns) or ``"1.0"`` (48)."""
    columns = AWS_FOCUS_1_2_COLUMNS if focus_version == "1.2" else AWS_FOCUS_1_0_COLUMNS
    return pa.schema([pa.field(name, ARROW_TYPES[kind]) for name, kind in columns.items()])


def parse_period(billing_period: str) -> date:
    """Return the first day of a ``YYYY-MM`` billing period."""
    try:
        return datetime.strptime(billing_period, "%Y-%m").replace(tzinfo=UTC).date()
    except ValueError as err:
        raise ValueError(
            f"Invalid billing period {billing_period!r}: expected YYYY-MM, e.g. 2026-04."
        ) from err


def add_months(first_day: date, months: int) -> date:
    index = first_day.year * 12 + first_day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class GeneratorConfig:
    """Settings of a generated history; the defaults give a small, fast history for tests.

    ``months`` counts every billing period, the current (month-to-date) one included.
    ``as_of`` is the generation time: the current period is the month of ``as_of`` and must
    be the last of the ``months`` periods. It defaults to 20:00 UTC on the 20th of that month.
    ``scenarios`` are names from ``catalog.SCENARIOS``; ``faults`` are names from ``FAULTS``
    and apply to the deliveries as ``generate_history`` documents.
    """

    seed: int = 42
    start_period: str = "2026-03"
    months: int = 3
    accounts: int = 6
    regions: tuple[str, ...] = c.DEFAULT_REGIONS
    granularity: str = "daily"
    deliveries_in_last_day: int = 3
    as_of: datetime | None = None
    rows_scale: float = 1.0
    scenarios: frozenset[str] = frozenset()
    faults: frozenset[str] = frozenset()
    focus_version: str = "1.2"
    overwrite_mode: str = "CREATE_NEW_REPORT"
    partition_key_case: str = "upper"
    export_name: str = "focus-export"
    export_prefix: str = "exports"
    # Bucket named in the manifest's dataFiles when the target is a local folder.
    export_bucket: str = "focus-billing-exports"

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(self.regions))
        object.__setattr__(self, "scenarios", frozenset(self.scenarios))
        object.__setattr__(self, "faults", frozenset(self.faults))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first invalid setting."""
        parse_period(self.start_period)
        checks = [
            (self.months >= 1, f"months must be at least 1, got {self.months}"),
            (self.accounts >= 1, f"accounts must be at least 1, got {self.accounts}"),
            (
                self.granularity in ("daily", "hourly"),
                f"granularity must be daily or hourly, got {self.granularity!r}",
            ),
            (
                self.focus_version in ("1.2", "1.0"),
                f"focus_version must be 1.2 or 1.0, got {self.focus_version!r}",
            ),
            (
                self.overwrite_mode in ("CREATE_NEW_REPORT", "OVERWRITE_REPORT"),
                f"overwrite_mode must be CREATE_NEW_REPORT or OVERWRITE_REPORT, got {self.overwrite_mode!r}",
            ),
            (
                self.partition_key_case in ("upper", "lower"),
                f"partition_key_case must be upper or lower, got {self.partition_key_case!r}",
            ),
            (self.rows_scale > 0, f"rows_scale must be positive, got {self.rows_scale}"),
            (self.deliveries_in_last_day >= 1, "deliveries_in_last_day must be at least 1"),
            (
                not self.scenarios - c.SCENARIOS,
                f"unknown scenarios {sorted(self.scenarios - c.SCENARIOS)}; valid: {sorted(c.SCENARIOS)}",
            ),
            (
                not self.faults - FAULTS,
                f"unknown faults {sorted(self.faults - FAULTS)}; valid: {sorted(FAULTS)}",
            ),
        ]
        unknown_regions = sorted(set(self.regions) - set(c.REGIONS))
        checks.append((not unknown_regions, f"unknown regions {unknown_regions}; valid: {sorted(c.REGIONS)}"))
        checks.append((bool(self.regions), "regions must not be empty"))
        if self.scenarios:
            checks.append(
                (
                    self.accounts >= c.MIN_ACCOUNTS_FOR_SCENARIOS,
                    f"scenarios need at least {c.MIN_ACCOUNTS_FOR_SCENARIOS} accounts, got {self.accounts}",
                )
            )
        if "new_region" in self.scenarios:
            checks.append(
                (c.NEW_REGION not in self.regions, f"remove {c.NEW_REGION} from regions to use new_region")
            )
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Invalid GeneratorConfig: {message}.")
        if self.as_of is not None and self.as_of.tzinfo is None:
            raise ValueError(
                f"Invalid GeneratorConfig: as_of {self.as_of} has no time zone; pass a UTC datetime."
            )
        if self.as_of is not None and self.as_of.date() < add_months(self.first_period, self.months - 1):
            raise ValueError(
                f"Invalid GeneratorConfig: as_of {self.as_of.isoformat()} falls before the last billing "
                f"period {self.periods[-1]}; move as_of into that month or change start_period/months."
            )

    @property
    def first_period(self) -> date:
        return parse_period(self.start_period)

    @property
    def periods(self) -> list[str]:
        """Billing periods of the history, oldest first, as ``YYYY-MM``."""
        return [add_months(self.first_period, k).strftime("%Y-%m") for k in range(self.months)]

    @property
    def now(self) -> datetime:
        """The generation time: ``as_of``, or 20:00 UTC on the 20th of the last period."""
        if self.as_of is not None:
            return self.as_of.astimezone(UTC)
        last = add_months(self.first_period, self.months - 1)
        return datetime(last.year, last.month, 20, 20, tzinfo=UTC)

    @property
    def current_period(self) -> str:
        return self.now.strftime("%Y-%m")

    @property
    def scenario_day(self) -> date:
        """The last whole UTC day before ``now``, on which every scenario bills."""
        return self.now.date() - timedelta(days=1)

    @property
    def payer_account_id(self) -> str:
        return c.account_ids(self.accounts)[0]


@dataclass
class Delivery:
    """One export delivery: a full snapshot of one billing period, and what was written for it."""

    billing_period: str
    execution_id: str
    delivered_at: datetime
    table: pa.Table
    focus_version: str = "1.2"
    manifest: dict = field(default_factory=dict)
    data_keys: list[str] = field(default_factory=list)
    faults: set[str] = field(default_factory=set)
    scenarios: set[str] = field(default_factory=set)

    @property
    def snapshot_folder(self) -> str:
        """Name of the CREATE_NEW_REPORT subfolder, e.g. ``2026-06-01T23:48:02.356Z-<executionId>``."""
        stamp = self.delivered_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return f"{stamp}-{self.execution_id}"


def execution_id(seed: int, billing_period: str, delivered_at: datetime) -> str:
    """Return a version-4 UUID derived from the seed, period and delivery time."""
    digest = hashlib.sha256(f"{seed}|{billing_period}|{delivered_at.isoformat()}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


@functools.lru_cache(maxsize=8)
def _line_item_columns(config: GeneratorConfig) -> dict:
    """Return the line items of ``config`` as per-item arrays and Arrow columns."""
    items = build_line_items(
        accounts=config.accounts,
        regions=list(config.regions),
        rows_scale=config.rows_scale,
        scenarios=config.scenarios,
        scenario_day=config.scenario_day,
        current_start=parse_period(config.current_period),
        seed=config.seed,
    )
    ids = c.account_ids(config.accounts)
    unset_first = np.datetime64("1970-01-01")
    unset_last = np.datetime64("2200-01-01")
    columns: dict[str, pa.Array] = {
        "SubAccountId": pa.array([ids[i.account_index] for i in items], pa.string()),
        "SubAccountName": pa.array([c.account_name(i.account_index) for i in items], pa.string()),
        "RegionId": pa.array([i.region_id for i in items], pa.string()),
        "RegionName": pa.array([c.region_name(i.region_id) for i in items], pa.string()),
        "AvailabilityZone": pa.array([i.availability_zone for i in items], pa.string()),
        "ServiceName": pa.array([i.service_name for i in items], pa.string()),
        "ServiceCategory": pa.array([i.service_category for i in items], pa.string()),
        "ServiceSubcategory": pa.array([i.service_subcategory for i in items], pa.string()),
        "x_ServiceCode": pa.array([i.service_code for i in items], pa.string()),
        "SkuMeter": pa.array([i.sku_meter for i in items], pa.string()),
        "x_Operation": pa.array([i.operation for i in items], pa.string()),
        "ChargeDescription": pa.array([i.description for i in items], pa.string()),
        "ChargeCategory": pa.array([i.charge_category for i in items], pa.string()),
        "ChargeFrequency": pa.array([i.charge_frequency for i in items], pa.string()),
        "PricingCategory": pa.array([i.pricing_category for i in items], pa.string()),
        # PricingUnit is null wherever PricingQuantity is null (tax, credit, unused commitment).
        "PricingUnit": pa.array(
            [None if i.kind in ("tax", "credit", "unused") else i.pricing_unit for i in items], pa.string()
        ),
        "ConsumedUnit": pa.array(
            [i.pricing_unit if i.kind in ("usage", "covered") else None for i in items], pa.string()
        ),
        "ResourceId": pa.array([i.resource_id for i in items], pa.string()),
        "ResourceName": pa.array([i.resource_name for i in items], pa.string()),
        "ResourceType": pa.array([i.resource_type for i in items], pa.string()),
        "PublisherName": pa.array([i.publisher_name for i in items], pa.string()),
        "SkuId": pa.array(
            [None if i.kind in ("tax", "credit") else sku_id(i.sku_meter, i.region_id) for i in items],
            pa.string(),
        ),
        "SkuPriceId": pa.array(
            [
                None if i.kind in ("tax", "credit") else sku_id(i.sku_meter, i.region_id) + ".JRTCKXETXF"
                for i in items
            ],
            pa.string(),
        ),
        "SkuPriceDetails": pa.array(
            [None if i.sku_price_details is None else list(i.sku_price_details.items()) for i in items],
            ARROW_TYPES[MAP_STRING],
        ),
        "Tags": pa.array([list(i.tags.items()) for i in items], ARROW_TYPES[MAP_STRING]),
    }
    commitment = [i.kind in ("covered", "unused", "purchase") for i in items]
    columns["CommitmentDiscountId"] = pa.array(
        [c.COMMITMENT_ID if flag else None for flag in commitment], pa.string()
    )
    for name, value in (
        ("CommitmentDiscountCategory", "Spend"),
        ("CommitmentDiscountType", "Compute Savings Plans"),
        ("CommitmentDiscountName", "compute-sp-1yr"),
        ("CommitmentDiscountUnit", "USD"),
    ):
        columns[name] = pa.array([value if flag else None for flag in commitment], pa.string())
    columns["CommitmentDiscountStatus"] = pa.array(
        [{"covered": "Used", "unused": "Unused"}.get(i.kind) for i in items], pa.string()
    )
    return {
        "columns": columns,
        "count": len(items),
        "kind": np.array([i.kind for i in items]),
        "unit_price": np.array([i.unit_price for i in items]),
        "quantity_per_hour": np.array([i.quantity_per_hour for i in items]),
        "noise": np.array([i.noise for i in items]),
        "cost_per_hour": np.array([i.cost_per_hour for i in items]),
        "one_time_amount": np.array([i.one_time_amount for i in items]),
        "price_factor": np.array([i.price_factor for i in items]),
        "weight": np.array([i.weight for i in items]),
        "lag_ms": np.array([i.lag_hours for i in items]) * _HOUR_MS,
        "first_day": np.array(
            [np.datetime64(i.first_day) if i.first_day else unset_first for i in items], "datetime64[D]"
        ),
        "last_day": np.array(
            [np.datetime64(i.last_day) if i.last_day else unset_last for i in items], "datetime64[D]"
        ),
        "standard_usage": np.array([i.kind == "usage" and i.pricing_category == "Standard" for i in items]),
    }


def _timestamp_column(values_ms: np.ndarray) -> pa.Array:
    return pa.array(values_ms.astype("datetime64[ms]"), pa.timestamp("ms")).cast(TIMESTAMP_TYPE)


def _constant(value: object, length: int, arrow_type: pa.DataType, dictionary: bool = False) -> pa.Array:
    if dictionary and pa.types.is_string(arrow_type):
        if value is None:
            return pa.DictionaryArray.from_arrays(pa.nulls(length, pa.int32()), pa.array([], arrow_type))
        indices = pa.array(np.zeros(length, dtype=np.int32))
        return pa.DictionaryArray.from_arrays(indices, pa.array([value], arrow_type))
    return pa.repeat(pa.scalar(value, arrow_type), length)


def _dictionary_take(column: pa.Array, item_index: np.ndarray) -> pa.DictionaryArray:
    """Encode ``column.take(item_index)`` as a dictionary; Parquet writers reject nulls in the dictionary."""
    null_rows = column.is_null().to_numpy(zero_copy_only=False)[item_index]
    indices = pa.array(item_index.astype(np.int32), mask=null_rows)
    return pa.DictionaryArray.from_arrays(indices, pc.fill_null(column, ""))


def _nullable(values: np.ndarray) -> pa.Array:
    """Convert a float array to Arrow doubles, NaN becoming null."""
    return pa.array(values, pa.float64(), from_pandas=True)


def generate_period(
    config: GeneratorConfig,
    billing_period: str,
    as_of: datetime | None = None,
    *,
    dictionary_strings: bool = False,
) -> pa.Table:
    """Return the snapshot of ``billing_period`` that AWS would deliver at ``as_of``.

    ``as_of`` defaults to ``config.now``. The table has the columns and Arrow types of
    ``arrow_schema(config.focus_version)``. With ``dictionary_strings`` the string columns are
    dictionary-encoded instead (about 40% less memory for millions of rows); Parquet files
    written from such a table still hold plain string columns.
    """
    as_of = (as_of or config.now).astimezone(UTC)
    start = parse_period(billing_period)
    end = add_months(start, 1)
    step_hours = 24 if config.granularity == "daily" else 1
    periods = calendar.monthrange(start.year, start.month)[1] * 24 // step_hours
    start_ms = int(_midnight(start).timestamp() * 1000)
    as_of_ms = int(as_of.timestamp() * 1000)
    step_ms = step_hours * _HOUR_MS

    items = _line_item_columns(config)
    count = items["count"]
    charge_start = start_ms + np.arange(periods, dtype=np.int64) * step_ms
    charge_day = np.datetime64(start) + (np.arange(periods) * step_hours // 24).astype("timedelta64[D]")

    # Which (line item, charge period) pairs exist and have reached the export by as_of.
    active = (charge_day[None, :] >= items["first_day"][:, None]) & (
        charge_day[None, :] <= items["last_day"][:, None]
    )
    visible_at = charge_start[None, :] + step_ms + items["lag_ms"][:, None]
    active &= visible_at <= as_of_ms
    active[items["kind"] == "credit", 1:] = False
    item_index, period_index = np.nonzero(active)
    rows = len(item_index)

    # Draws for the whole month grid, so that a row's values do not depend on as_of.
    rng = np.random.default_rng([config.seed, start.year, start.month])
    grid_noise = rng.standard_normal((count, periods))
    grid_uniform = rng.random((count, periods))
    utilization_noise = rng.standard_normal(periods)
    z = grid_noise[item_index, period_index]
    u = grid_uniform[item_index, period_index]
    del grid_noise, grid_uniform

    kind = items["kind"][item_index]
    hours = float(step_hours)
    factor = np.clip(1.0 + items["noise"][item_index] * z, 0.0, None)
    unit_price = items["unit_price"][item_index]
    cost_per_hour = items["cost_per_hour"][item_index]
    quantity = items["quantity_per_hour"][item_index] * hours * factor
    list_cost = np.where(cost_per_hour > 0, cost_per_hour * hours * factor, quantity * unit_price)
    quantity = np.where(
        (cost_per_hour > 0) & (unit_price > 0), list_cost / np.where(unit_price > 0, unit_price, 1), quantity
    )
    billed = list_cost * items["price_factor"][item_index]
    effective = billed.copy()
    contracted = billed.copy()
    list_unit = unit_price.copy()
    contracted_unit = unit_price * items["price_factor"][item_index]
    commitment_quantity = np.full(rows, np.nan)

    # Savings Plan: the fee is billed on the purchase row and amortised over covered usage; the
    # part that no usage consumed is the Unused row.
    utilization = (
        c.COMMITMENT_DRIFT_UTILIZATION
        if "commitment_drift" in config.scenarios and billing_period == config.current_period
        else c.COMMITMENT_UTILIZATION
    )
    period_utilization = np.clip(utilization + 0.01 * utilization_noise, 0.0, 1.0)[period_index]
    fee = c.COMMITMENT_HOURLY_FEE * hours
    covered = kind == "covered"
    used_cost = period_utilization * fee * items["weight"][item_index]
    effective[covered] = used_cost[covered]
    list_cost[covered] = used_cost[covered] / _COVERED_RATE
    contracted[covered] = list_cost[covered]
    quantity[covered] = list_cost[covered] / unit_price[covered]
    billed[covered] = 0.0
    commitment_quantity[covered] = used_cost[covered]

    unused = kind == "unused"
    effective[unused] = ((1.0 - period_utilization) * fee)[unused]
    commitment_quantity[unused] = effective[unused]
    for array in (billed, list_cost, contracted):
        array[unused] = 0.0
    quantity[unused] = np.nan
    list_unit[unused] = np.nan
    contracted_unit[unused] = np.nan

    purchase = kind == "purchase"
    billed[purchase] = fee
    list_cost[purchase] = fee
    contracted[purchase] = fee
    effective[purchase] = 0.0
    quantity[purchase] = hours
    list_unit[purchase] = c.COMMITMENT_HOURLY_FEE
    contracted_unit[purchase] = c.COMMITMENT_HOURLY_FEE
    commitment_quantity[purchase] = fee

    credit = kind == "credit"
    amount = -items["one_time_amount"][item_index]
    for array in (billed, effective, list_cost, contracted):
        array[credit] = amount[credit]
    fixed = credit | (kind == "tax")
    quantity[fixed] = np.nan
    list_unit[fixed] = np.nan
    contracted_unit[fixed] = np.nan

    preliminary = (
        items["standard_usage"][item_index]
        & (u < _PRELIMINARY_SHARE)
        & (as_of_ms - visible_at[item_index, period_index] < _PRELIMINARY_HOURS * _HOUR_MS)
    )
    for array in (billed, effective, list_cost, contracted, quantity):
        array[preliminary] *= _PRELIMINARY_FACTOR
    consumed = np.where((kind == "usage") | covered, quantity, np.nan)

    take = pa.array(item_index.astype(np.int32))
    static = {}
    for name, column in items["columns"].items():
        if dictionary_strings and pa.types.is_string(column.type):
            static[name] = _dictionary_take(column, item_index)
        else:
            static[name] = column.take(take)
    payer = config.payer_account_id
    final = as_of >= _midnight(end) + timedelta(days=2)
    discounts = _discounts_column(covered, effective, list_cost)

    data: dict[str, pa.Array] = {
        **static,
        "BilledCost": pa.array(billed, pa.float64()),
        "BillingAccountId": _constant(payer, rows, pa.string(), dictionary_strings),
        "BillingAccountName": _constant(c.account_name(0), rows, pa.string(), dictionary_strings),
        "BillingAccountType": _constant("Billing Account", rows, pa.string(), dictionary_strings),
        "BillingCurrency": _constant("USD", rows, pa.string(), dictionary_strings),
        "BillingPeriodEnd": _constant(_midnight(end), rows, TIMESTAMP_TYPE),
        "BillingPeriodStart": _constant(_midnight(start), rows, TIMESTAMP_TYPE),
        "CapacityReservationId": _constant(None, rows, pa.string(), dictionary_strings),
        "CapacityReservationStatus": _constant(None, rows, pa.string(), dictionary_strings),
        "ChargeClass": _constant(None, rows, pa.string(), dictionary_strings),
        "ChargePeriodEnd": _timestamp_column(charge_start[period_index] + step_ms),
        "ChargePeriodStart": _timestamp_column(charge_start[period_index]),
        "CommitmentDiscountQuantity": _nullable(commitment_quantity),
        "ConsumedQuantity": _nullable(consumed),
        "ContractedCost": pa.array(contracted, pa.float64()),
        "ContractedUnitPrice": _nullable(contracted_unit),
        "EffectiveCost": pa.array(effective, pa.float64()),
        "InvoiceId": _constant(
            f"{start:%y%m}{payer[-8:]}" if final else None, rows, pa.string(), dictionary_strings
        ),
        "InvoiceIssuerName": _constant("AWS", rows, pa.string(), dictionary_strings),
        "ListCost": pa.array(list_cost, pa.float64()),
        "ListUnitPrice": _nullable(list_unit),
        "PricingCurrency": _constant("USD", rows, pa.string(), dictionary_strings),
        "PricingCurrencyContractedUnitPrice": _nullable(contracted_unit),
        "PricingCurrencyEffectiveCost": pa.array(effective, pa.float64()),
        "PricingCurrencyListUnitPrice": _nullable(list_unit),
        "PricingQuantity": _nullable(np.where(fixed | unused, np.nan, quantity)),
        "ProviderName": _constant("AWS", rows, pa.string(), dictionary_strings),
        "SubAccountType": _constant("Linked Account", rows, pa.string(), dictionary_strings),
        "x_Discounts": discounts,
    }
    schema = arrow_schema("1.2")
    if dictionary_strings:
        schema = pa.schema([pa.field(f.name, data[f.name].type) for f in schema])
    table = pa.table({name: data[name] for name in AWS_FOCUS_1_2_COLUMNS}, schema=schema)
    log.info("Generated %s as of %s: %d rows", billing_period, as_of.isoformat(), table.num_rows)
    if config.focus_version == "1.0":
        return to_focus_1_0(table)
    return table


def _discounts_column(covered: np.ndarray, effective: np.ndarray, list_cost: np.ndarray) -> pa.Array:
    """Build x_Discounts: the Savings Plan discount on covered rows, an empty map elsewhere."""
    rows = len(covered)
    lengths = covered.astype(np.int32)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = (effective - list_cost)[covered]
    keys = pa.repeat(pa.scalar("SavingsPlanDiscount"), int(covered.sum()))
    return pa.MapArray.from_arrays(pa.array(offsets), keys, pa.array(values, pa.float64()))


def to_focus_1_0(table: pa.Table) -> pa.Table:
    """Convert a FOCUS_1_2_AWS table to the 48 columns of FOCUS_1_0_AWS.

    ``x_UsageType`` takes the value of ``SkuMeter``, and ``x_CostCategories`` is an empty map
    (FOCUS 1.2 exports carry cost categories in ``Tags``).
    """
    data = {name: table.column(name) for name in AWS_FOCUS_1_0_COLUMNS if name in table.column_names}
    data["x_UsageType"] = table.column("SkuMeter")
    empty = pa.MapArray.from_arrays(
        pa.array(np.zeros(table.num_rows + 1, dtype=np.int32)),
        pa.array([], pa.string()),
        pa.array([], pa.string()),
    )
    data["x_CostCategories"] = empty
    return pa.table({name: data[name] for name in AWS_FOCUS_1_0_COLUMNS}, schema=arrow_schema("1.0"))


def _delivery_times(config: GeneratorConfig) -> list[tuple[str, datetime]]:
    now = config.now
    spacing = timedelta(hours=6)
    current_times = [now - spacing * k for k in reversed(range(config.deliveries_in_last_day))]
    times: list[tuple[str, datetime]] = []
    for billing_period in config.periods[:-1]:
        next_start = _midnight(add_months(parse_period(billing_period), 1))
        delivered = min(next_start + timedelta(days=2, hours=6), current_times[0] - timedelta(hours=1))
        times.append((billing_period, delivered))
    times.extend((config.periods[-1], moment) for moment in current_times)
    return sorted(times, key=lambda pair: pair[1])


def generate_history(config: GeneratorConfig) -> list[Delivery]:
    """Return the deliveries of the history, ordered by ``delivered_at``.

    There is one delivery per closed billing period (its final snapshot) and
    ``deliveries_in_last_day`` deliveries of the current period, six hours apart, the last at
    ``config.now``. Faults in ``config.faults`` apply to the last delivery, with two
    exceptions: ``focus_1_0`` turns every closed period into FOCUS 1.0 (a history that moved
    from 1.0 to 1.2), and ``truncated`` appends one more delivery an hour after the last, with
    fewer days than it.
    """
    from focus_generator.faults import apply_fault

    deliveries: list[Delivery] = []
    for billing_period, delivered_at in _delivery_times(config):
        table = generate_period(config, billing_period, delivered_at)
        deliveries.append(
            Delivery(
                billing_period=billing_period,
                execution_id=execution_id(config.seed, billing_period, delivered_at),
                delivered_at=delivered_at,
                table=table,
                focus_version=config.focus_version,
                scenarios=set(config.scenarios) if billing_period == config.current_period else set(),
            )
        )
    for fault in sorted(config.faults):
        if fault == "focus_1_0":
            for index, delivery in enumerate(deliveries):
                if delivery.billing_period != config.current_period:
                    deliveries[index] = apply_fault(delivery, fault)
        elif fault == "truncated":
            deliveries.append(apply_fault(deliveries[-1], fault, seed=config.seed))
        else:
            deliveries[-1] = apply_fault(deliveries[-1], fault, seed=config.seed)
    return deliveries


def total_billed_cost(table: pa.Table) -> float:
    """Return SUM(BilledCost) of a table, 0.0 for an empty one."""
    return float(pc.sum(table.column("BilledCost")).as_py() or 0.0)
