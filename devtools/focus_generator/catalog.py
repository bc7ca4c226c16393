"""Accounts, regions, services and the per-account line items that the generator bills.

A line item is one resource and meter billed in every charge period of a date range; the
generator expands each line item over the charge periods of a month in ``generate.py``. The
account roles below are fixed so that tests can assert the findings of each scenario:

- ``ACCOUNT_IDS[0]`` is the management (payer) account. It owns the Compute Savings Plan
  ``COMMITMENT_ID``, which covers EC2 usage in accounts 0 and 1 and is about 95% used every
  month. Scenario ``commitment_drift`` lowers its use to about 60% in the current month.
- ``NEW_REGION_ACCOUNT`` (account 1): scenario ``new_region`` adds a small EC2 cost in
  ``NEW_REGION`` (ap-southeast-3), a region no account ever uses otherwise.
- ``NEW_SERVICE_ACCOUNT`` (account 2): scenario ``new_service`` adds Amazon DynamoDB
  (``NEW_SERVICE_CODE``), which no account uses otherwise.
- ``EGRESS_ACCOUNT`` (account 3): scenario ``egress_spike`` adds ``EGRESS_SPIKE_COST`` USD of
  ``DataTransfer-Out-Bytes`` on one day, about 30 times the account's EC2 compute cost of that day.
  Every day without the scenario, each account's egress is below 10% of its compute.
- ``ORPHANED_OCU_ACCOUNT`` (account 4) runs OpenSearch Serverless OCUs and Amazon Bedrock every
  month. Scenario ``orphaned_search_ocu`` stops its Bedrock usage ``BEDROCK_STOP_DAYS`` days
  before the scenario day while the OCUs keep billing. ``OCU_WITH_BEDROCK_ACCOUNT`` (account 5)
  keeps OCUs in its home region and Bedrock in another region: the negative case.
- ``SAGEMAKER_ACCOUNT`` (account 5) hosts ``BUSY_ENDPOINT_ARN`` every month. Scenario
  ``idle_sagemaker_endpoint`` adds hosting hours of ``IDLE_ENDPOINT_ARN`` in the current month;
  the emulator's CloudWatch reports no invocations for it.

Every scenario bills on the scenario day: the last whole UTC day before ``GeneratorConfig.as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# Twelve-digit account ids; some keep leading zeros, which must survive as strings.
BASE_ACCOUNT_IDS: tuple[str, ...] = (
    "001234567890",
    "112233445566",
    "023456789012",
    "334455667788",
    "445566778899",
    "000987654321",
    "556677889900",
    "067890123456",
    "778899001122",
    "889900112233",
    "090817263545",
    "123123123123",
)
BASE_ACCOUNT_NAMES: tuple[str, ...] = (
    "management",
    "payments-prod",
    "data-platform",
    "media-delivery",
    "search-prod",
    "ml-serving",
    "web-prod",
    "analytics-dev",
    "batch-jobs",
    "identity",
    "sandbox",
    "shared-services",
)

PAYER_ACCOUNT_ID = BASE_ACCOUNT_IDS[0]
NEW_REGION_ACCOUNT = BASE_ACCOUNT_IDS[1]
NEW_SERVICE_ACCOUNT = BASE_ACCOUNT_IDS[2]
EGRESS_ACCOUNT = BASE_ACCOUNT_IDS[3]
ORPHANED_OCU_ACCOUNT = BASE_ACCOUNT_IDS[4]
OCU_WITH_BEDROCK_ACCOUNT = BASE_ACCOUNT_IDS[5]
SAGEMAKER_ACCOUNT = BASE_ACCOUNT_IDS[5]
# Scenarios use accounts 0 to 5, so a configuration with scenarios needs at least six accounts.
MIN_ACCOUNTS_FOR_SCENARIOS = 6

NEW_REGION = "ap-southeast-3"
NEW_SERVICE_CODE = "AmazonDynamoDB"
NEW_SERVICE_NAME = "Amazon DynamoDB"
EGRESS_SPIKE_COST = 180.0
BEDROCK_STOP_DAYS = 10
COMMITMENT_ID = f"arn:aws:savingsplans::{PAYER_ACCOUNT_ID}:savingsplan/3f2b8c1e-7d4a-4e5b-9c6d-0a1b2c3d4e5f"
COMMITMENT_HOURLY_FEE = 1.0
COMMITMENT_UTILIZATION = 0.95
COMMITMENT_DRIFT_UTILIZATION = 0.60

SCENARIOS: frozenset[str] = frozenset(
    {
        "new_region",
        "new_service",
        "egress_spike",
        "orphaned_search_ocu",
        "idle_sagemaker_endpoint",
        "commitment_drift",
    }
)

DEFAULT_REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1")

# Region id -> (usage type prefix used in SkuMeter, region name).
REGIONS: dict[str, tuple[str, str]] = {
    "us-east-1": ("USE1", "US East (N. Virginia)"),
    "us-east-2": ("USE2", "US East (Ohio)"),
    "us-west-1": ("USW1", "US West (N. California)"),
    "us-west-2": ("USW2", "US West (Oregon)"),
    "ca-central-1": ("CAN1", "Canada (Central)"),
    "eu-west-1": ("EUW1", "Europe (Ireland)"),
    "eu-west-2": ("EUW2", "Europe (London)"),
    "eu-central-1": ("EUC1", "Europe (Frankfurt)"),
    "eu-north-1": ("EUN1", "Europe (Stockholm)"),
    "ap-northeast-1": ("APN1", "Asia Pacific (Tokyo)"),
    "ap-southeast-1": ("APS1", "Asia Pacific (Singapore)"),
    "ap-southeast-2": ("APS2", "Asia Pacific (Sydney)"),
    "ap-southeast-3": ("APS4", "Asia Pacific (Jakarta)"),
    "ap-south-1": ("APS3", "Asia Pacific (Mumbai)"),
    "sa-east-1": ("SAE1", "South America (Sao Paulo)"),
}

# Instance type -> (on-demand USD per hour, vCPU count).
EC2_PRICES: dict[str, tuple[float, int]] = {
    "t3.micro": (0.0104, 2),
    "m6i.large": (0.096, 2),
    "m6i.xlarge": (0.192, 4),
    "m6i.2xlarge": (0.384, 8),
    "c6i.xlarge": (0.17, 4),
    "r6i.large": (0.126, 2),
}

ENDPOINT_BUSY_NAME = "recommendations-prod"
ENDPOINT_IDLE_NAME = "churn-model-staging"


def account_ids(count: int) -> list[str]:
    """Return ``count`` twelve-digit account ids: the fixed ones first, then derived ones."""
    ids = list(BASE_ACCOUNT_IDS[:count])
    for index in range(len(ids), count):
        # A multiplicative hash spreads the extra ids over the 12-digit range; some start with 0.
        ids.append(f"{(index * 2_654_435_761 + 97_531) % 10**12:012d}")
    return ids


def account_name(index: int) -> str:
    if index < len(BASE_ACCOUNT_NAMES):
        return BASE_ACCOUNT_NAMES[index]
    return f"workload-{index:04d}"


def region_name(region_id: str | None) -> str | None:
    if region_id is None or region_id == "global":
        return None
    return REGIONS[region_id][1]


def usage_prefix(region_id: str) -> str:
    return REGIONS[region_id][0]


def endpoint_arn(region_id: str, account_id: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region_id}:{account_id}:endpoint/{name}"


def home_region(index: int, regions: list[str]) -> str:
    """Return the region of an account's EC2, S3 and RDS line items."""
    return regions[index % len(regions)]


# SageMaker, OpenSearch Serverless and Bedrock bill in fixed regions, whatever the configured
# regions, so that the scenario constants below hold for every configuration.
SAGEMAKER_REGION = "us-east-1"
OCU_REGION = "us-east-1"
BEDROCK_OTHER_REGION = "us-west-2"
BUSY_ENDPOINT_ARN = endpoint_arn(SAGEMAKER_REGION, SAGEMAKER_ACCOUNT, ENDPOINT_BUSY_NAME)
IDLE_ENDPOINT_ARN = endpoint_arn(SAGEMAKER_REGION, SAGEMAKER_ACCOUNT, ENDPOINT_IDLE_NAME)


@dataclass
class LineItem:
    """One billed resource and meter, repeated in every charge period from first_day to last_day.

    ``kind`` selects the cost formula: ``usage`` (on-demand or spot), ``covered`` (usage paid by
    the Savings Plan), ``unused`` (the unused share of the Savings Plan), ``purchase`` (the
    Savings Plan's recurring fee), ``tax`` and ``credit``. ``first_day`` and ``last_day`` are
    inclusive UTC dates, and ``None`` leaves that side open.
    """

    account_index: int
    service_name: str
    service_code: str
    service_category: str
    service_subcategory: str
    region_id: str | None
    sku_meter: str
    operation: str
    description: str
    kind: str = "usage"
    charge_category: str = "Usage"
    charge_frequency: str = "Usage-Based"
    pricing_category: str | None = "Standard"
    unit_price: float = 0.0
    quantity_per_hour: float = 0.0
    noise: float = 0.05
    pricing_unit: str | None = "Hours"
    resource_id: str | None = None
    resource_name: str | None = None
    resource_type: str | None = None
    availability_zone: str | None = None
    sku_price_details: dict[str, str] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    publisher_name: str | None = "Amazon Web Services, Inc."
    sku_id: str | None = None
    first_day: date | None = None
    last_day: date | None = None
    lag_hours: float = 0.0
    # Share of the Savings Plan's used amount that this covered line item carries.
    weight: float = 0.0
    # Cost per hour in USD for rows whose amount is fixed (tax, scenario rows); 0 derives the
    # cost from quantity_per_hour and unit_price.
    cost_per_hour: float = 0.0
    # Total of a one-time credit in USD, billed in the first charge period of each month.
    one_time_amount: float = 0.0
    # BilledCost / ListCost: 1.0 on demand, lower for spot capacity.
    price_factor: float = 1.0
