"""Column sets and Parquet types of the AWS FOCUS exports (FOCUS_1_2_AWS and FOCUS_1_0_AWS).

AWS delivers costs and quantities as ``double`` (the FOCUS spec says Decimal), the four period
columns as UTC timestamps in milliseconds (end-exclusive), and ``Tags`` and ``SkuPriceDetails``
as ``map<string,string>`` (the spec says JSON text). Account ids are strings and keep their
leading zeros.
"""

from __future__ import annotations

DOUBLE = "double"
TIMESTAMP = "timestamp"
STRING = "string"
MAP_STRING = "map<string,string>"
MAP_DOUBLE = "map<string,double>"

# FOCUS 1.2 columns in specification order, with the Glue (Hive) type AWS delivers.
FOCUS_1_2_COLUMNS: dict[str, str] = {
    "AvailabilityZone": STRING,
    "BilledCost": DOUBLE,
    "BillingAccountId": STRING,
    "BillingAccountName": STRING,
    "BillingAccountType": STRING,
    "BillingCurrency": STRING,
    "BillingPeriodEnd": TIMESTAMP,
    "BillingPeriodStart": TIMESTAMP,
    "CapacityReservationId": STRING,
    "CapacityReservationStatus": STRING,
    "ChargeCategory": STRING,
    "ChargeClass": STRING,
    "ChargeDescription": STRING,
    "ChargeFrequency": STRING,
    "ChargePeriodEnd": TIMESTAMP,
    "ChargePeriodStart": TIMESTAMP,
    "CommitmentDiscountCategory": STRING,
    "CommitmentDiscountId": STRING,
    "CommitmentDiscountName": STRING,
    "CommitmentDiscountQuantity": DOUBLE,
    "CommitmentDiscountStatus": STRING,
    "CommitmentDiscountType": STRING,
    "CommitmentDiscountUnit": STRING,
    "ConsumedQuantity": DOUBLE,
    "ConsumedUnit": STRING,
    "ContractedCost": DOUBLE,
    "ContractedUnitPrice": DOUBLE,
    "EffectiveCost": DOUBLE,
    "InvoiceId": STRING,
    "InvoiceIssuerName": STRING,
    "ListCost": DOUBLE,
    "ListUnitPrice": DOUBLE,
    "PricingCategory": STRING,
    "PricingCurrency": STRING,
    "PricingCurrencyContractedUnitPrice": DOUBLE,
    "PricingCurrencyEffectiveCost": DOUBLE,
    "PricingCurrencyListUnitPrice": DOUBLE,
    "PricingQuantity": DOUBLE,
    "PricingUnit": STRING,
    "ProviderName": STRING,
    "PublisherName": STRING,
    "RegionId": STRING,
    "RegionName": STRING,
    "ResourceId": STRING,
    "ResourceName": STRING,
    "ResourceType": STRING,
    "ServiceCategory": STRING,
    "ServiceName": STRING,
    "ServiceSubcategory": STRING,
    "SkuId": STRING,
    "SkuMeter": STRING,
    "SkuPriceDetails": MAP_STRING,
    "SkuPriceId": STRING,
    "SubAccountId": STRING,
    "SubAccountName": STRING,
    "SubAccountType": STRING,
    "Tags": MAP_STRING,
}

# Columns AWS adds to FOCUS_1_2_AWS beyond the specification.
AWS_1_2_EXTRA_COLUMNS: dict[str, str] = {
    "x_Discounts": MAP_DOUBLE,
    "x_Operation": STRING,
    "x_ServiceCode": STRING,
}

# The 60 columns of FOCUS_1_2_AWS.
AWS_FOCUS_1_2_COLUMNS: dict[str, str] = {**FOCUS_1_2_COLUMNS, **AWS_1_2_EXTRA_COLUMNS}

# FOCUS columns that FOCUS 1.1 and 1.2 added; a FOCUS 1.0 export has none of them.
ADDED_AFTER_1_0: tuple[str, ...] = (
    "BillingAccountType",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit",
    "InvoiceId",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "ServiceSubcategory",
    "SkuMeter",
    "SkuPriceDetails",
    "SubAccountType",
)

# The 48 columns of FOCUS_1_0_AWS: 43 FOCUS 1.0 columns and five x_ columns.
AWS_FOCUS_1_0_COLUMNS: dict[str, str] = {
    **{name: kind for name, kind in FOCUS_1_2_COLUMNS.items() if name not in ADDED_AFTER_1_0},
    "x_CostCategories": MAP_STRING,
    "x_Discounts": MAP_DOUBLE,
    "x_Operation": STRING,
    "x_ServiceCode": STRING,
    "x_UsageType": STRING,
}

# Columns AWS documents as possibly null where FOCUS 1.2 forbids nulls (AWS conformance gaps).
AWS_NULLABLE_GAPS: frozenset[str] = frozenset(
    {
        "ContractedUnitPrice",
        "InvoiceIssuerName",
        "ListUnitPrice",
        "PricingUnit",
        "PublisherName",
        "SkuId",
        "SkuPriceId",
    }
)

# Allowed values of the enumerated columns; None stands for SQL NULL.
ALLOWED_VALUES: dict[str, frozenset[str | None]] = {
    "ChargeCategory": frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ChargeClass": frozenset({None, "Correction"}),
    "CommitmentDiscountStatus": frozenset({None, "Used", "Unused"}),
    "PricingCategory": frozenset({None, "Standard", "Dynamic", "Committed", "Other"}),
    "ChargeFrequency": frozenset({"One-Time", "Recurring", "Usage-Based"}),
}

# Partition keys of the staged snapshot table and of focus_current, in Glue order.
SNAPSHOT_PARTITION_KEYS: tuple[str, ...] = ("billing_period", "delivery")
CURRENT_PARTITION_KEYS: tuple[str, ...] = ("billing_period",)


def detect_focus_version(column_names: list[str] | set[str]) -> str:
    """Return ``"1.2"`` or ``"1.0"`` from a delivery's column names (case-insensitive).

    A FOCUS 1.0 export has ``x_UsageType`` and none of the columns added after 1.0; anything
    with ``SkuMeter`` is treated as 1.2 (newer columns are drift, not a version change).
    """
    lowered = {name.lower() for name in column_names}
    if "skumeter" in lowered:
        return "1.2"
    if "x_usagetype" in lowered:
        return "1.0"
    return "1.2"
