"""Build the line items of an organisation: a stable baseline plus the line items of each scenario."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import numpy as np

from focus_generator import catalog as c
from focus_generator.catalog import LineItem

_ENVIRONMENTS = ("prod", "staging", "dev")


def _stable_hex(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def sku_id(meter: str, region_id: str | None) -> str:
    """Return a 16-character SKU id derived from the meter and region, stable across runs."""
    return hashlib.sha256(f"{meter}|{region_id}".encode()).hexdigest()[:16].upper()


def transfer_out_meter(region_id: str) -> str:
    # AWS writes us-east-1 data transfer usage types without a region prefix.
    if region_id == "us-east-1":
        return "DataTransfer-Out-Bytes"
    return f"{c.usage_prefix(region_id)}-DataTransfer-Out-Bytes"


def _ec2_instance(index: int, account_id: str, region_id: str, instance_type: str, serial: int) -> LineItem:
    price, vcpus = c.EC2_PRICES[instance_type]
    prefix = c.usage_prefix(region_id)
    instance_id = "i-0" + _stable_hex(f"{account_id}{region_id}{instance_type}{serial}", 16)
    details: dict[str, str] | None = {"InstanceType": instance_type, "CoreCount": str(vcpus)}
    if serial % 4 == 1:
        details = None
    elif serial % 4 == 2:
        details = {}
    return LineItem(
        account_index=index,
        service_name="Amazon Elastic Compute Cloud",
        service_code="AmazonEC2",
        service_category="Compute",
        service_subcategory="Virtual Machines",
        region_id=region_id,
        sku_meter=f"{prefix}-BoxUsage:{instance_type}",
        operation="RunInstances",
        description=f"${price} per On Demand Linux {instance_type} Instance Hour",
        unit_price=price,
        quantity_per_hour=1.0,
        noise=0.0,
        resource_id=instance_id,
        resource_name=f"{c.account_name(index)}-{serial}",
        resource_type="Instance",
        availability_zone=f"{region_id}{'abc'[serial % 3]}",
        sku_price_details=details,
        tags={"Environment": _ENVIRONMENTS[serial % 3], "Team": c.account_name(index)},
    )


def _transfer(index: int, region_id: str, meter: str, gb_per_hour: float, price: float) -> LineItem:
    return LineItem(
        account_index=index,
        service_name="Amazon Elastic Compute Cloud",
        service_code="AmazonEC2",
        # Data transfer keeps the service that moved the bytes, so EC2 transfer is Compute.
        service_category="Compute",
        service_subcategory="Virtual Machines",
        region_id=region_id,
        sku_meter=meter,
        operation="RunInstances",
        description=f"${price} per GB - {meter}",
        unit_price=price,
        quantity_per_hour=gb_per_hour,
        noise=0.2,
        pricing_unit="GB",
    )


def _baseline_items(index: int, account_id: str, region_id: str, scale: float) -> list[LineItem]:
    prefix = c.usage_prefix(region_id)
    items: list[LineItem] = []
    instance_types = ("m6i.large", "m6i.xlarge", "c6i.xlarge", "r6i.large")
    count = max(2, round(3 * scale))
    for serial in range(count):
        items.append(_ec2_instance(index, account_id, region_id, instance_types[serial % 4], serial))
    spot = _ec2_instance(index, account_id, region_id, "c6i.xlarge", count)
    spot.pricing_category = "Dynamic"
    spot.price_factor = 0.35
    spot.description = "Linux/UNIX Spot Instance-hour in " + region_id
    items.append(spot)

    # Egress stays under 10% of compute: about 0.05 GB an hour at 0.09 USD per GB.
    items.append(_transfer(index, region_id, transfer_out_meter(region_id), 0.05 * count / 3, 0.09))
    items.append(_transfer(index, region_id, f"{prefix}-DataTransfer-Regional-Bytes", 0.4, 0.01))
    nat = _transfer(index, region_id, f"{prefix}-NatGateway-Bytes", 0.3, 0.045)
    nat.operation = "NatGateway"
    nat.resource_id = f"arn:aws:ec2:{region_id}:{account_id}:natgateway/nat-0{_stable_hex(account_id, 16)}"
    items.append(nat)

    bucket = f"{c.account_name(index)}-{account_id}-data"
    items.append(
        LineItem(
            account_index=index,
            service_name="Amazon Simple Storage Service",
            service_code="AmazonS3",
            service_category="Storage",
            service_subcategory="Object Storage",
            region_id=region_id,
            sku_meter=f"{prefix}-TimedStorage-ByteHrs",
            operation="StandardStorage",
            description="$0.023 per GB - first 50 TB / month of storage used",
            unit_price=0.023,
            quantity_per_hour=800.0 / 730.0,
            noise=0.01,
            pricing_unit="GB-Months",
            resource_id=bucket,
            resource_name=bucket,
            resource_type="Bucket",
            sku_price_details={"StorageClass": "General Purpose"},
            tags={"Team": c.account_name(index)},
        )
    )
    s3_out = _transfer(index, region_id, f"{prefix}-AWS-Out-Bytes", 0.02, 0.02)
    s3_out.service_name = "Amazon Simple Storage Service"
    s3_out.service_code = "AmazonS3"
    s3_out.service_category = "Storage"
    s3_out.service_subcategory = "Object Storage"
    s3_out.operation = "GetObject"
    s3_out.resource_id = bucket
    items.append(s3_out)

    items.append(
        LineItem(
            account_index=index,
            service_name="Amazon Relational Database Service",
            service_code="AmazonRDS",
            service_category="Databases",
            service_subcategory="Relational Databases",
            region_id=region_id,
            sku_meter=f"{prefix}-InstanceUsage:db.r6g.large",
            operation="CreateDBInstance:0014",
            description="$0.26 per RDS db.r6g.large instance hour (or partial hour) running PostgreSQL",
            unit_price=0.26,
            quantity_per_hour=1.0,
            noise=0.0,
            resource_id=f"arn:aws:rds:{region_id}:{account_id}:db:{c.account_name(index)}-db",
            resource_name=f"{c.account_name(index)}-db",
            resource_type="DBInstance",
            availability_zone=f"{region_id}a",
            sku_price_details={"InstanceType": "db.r6g.large", "DatabaseEngine": "PostgreSQL"},
            tags={"Team": c.account_name(index)},
        )
    )
    items.append(
        LineItem(
            account_index=index,
            service_name="Amazon Elastic Compute Cloud",
            service_code="AmazonEC2",
            service_category="Compute",
            service_subcategory="Virtual Machines",
            region_id=None,
            sku_meter="Tax",
            operation="",
            description="Tax for product code AmazonEC2",
            kind="tax",
            charge_category="Tax",
            charge_frequency="Usage-Based",
            pricing_category=None,
            pricing_unit=None,
            cost_per_hour=0.02 * count,
            noise=0.05,
            publisher_name="AWS",
        )
    )
    return items


def _management_items(regions: list[str], scale: float) -> list[LineItem]:
    """Global services, a monthly credit and the Savings Plan with the usage it covers."""
    home = c.home_region(0, regions)
    items = [
        LineItem(
            account_index=0,
            service_name="Amazon Route 53",
            service_code="AmazonRoute53",
            service_category="Networking",
            service_subcategory="Network Routing",
            region_id="global",
            sku_meter="HostedZone",
            operation="",
            description="$0.50 per Hosted Zone for the first 25 Hosted Zones",
            unit_price=0.5 / 730.0,
            quantity_per_hour=4.0,
            noise=0.0,
            pricing_unit="HostedZone",
            resource_id="arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ",
        ),
        LineItem(
            account_index=0,
            service_name="Amazon CloudFront",
            service_code="AmazonCloudFront",
            service_category="Networking",
            service_subcategory="Content Delivery",
            region_id=None,
            sku_meter="US-Requests-Tier1",
            operation="GET",
            description="$0.0075 per 10,000 HTTP requests",
            unit_price=0.0075,
            quantity_per_hour=3.0,
            noise=0.3,
            pricing_unit="Requests",
            resource_id=f"arn:aws:cloudfront::{c.PAYER_ACCOUNT_ID}:distribution/E2QWRUHAPOMQZL",
        ),
        LineItem(
            account_index=0,
            service_name="Amazon Elastic Compute Cloud",
            service_code="AmazonEC2",
            service_category="Compute",
            service_subcategory="Virtual Machines",
            region_id=home,
            sku_meter="Credit",
            operation="",
            description="AWS Credits - promotional credit",
            kind="credit",
            charge_category="Credit",
            charge_frequency="One-Time",
            pricing_category=None,
            pricing_unit=None,
            one_time_amount=25.0,
        ),
    ]
    sp_service = ("Savings Plans for AWS Compute usage", "ComputeSavingsPlans")
    items.append(
        LineItem(
            account_index=0,
            service_name=sp_service[0],
            service_code=sp_service[1],
            service_category="Compute",
            service_subcategory="Other (Compute)",
            region_id=None,
            sku_meter="ComputeSP:1yrNoUpfront",
            operation="",
            description=f"1 year No Upfront Compute Savings Plan with {c.COMMITMENT_HOURLY_FEE} USD/hour",
            kind="purchase",
            charge_category="Purchase",
            charge_frequency="Recurring",
            pricing_unit="Hours",
            resource_id=c.COMMITMENT_ID,
            lag_hours=2.0,
        )
    )
    items.append(
        LineItem(
            account_index=0,
            service_name=sp_service[0],
            service_code=sp_service[1],
            service_category="Compute",
            service_subcategory="Other (Compute)",
            region_id=None,
            sku_meter="ComputeSP:1yrNoUpfront",
            operation="",
            description="Unused Compute Savings Plan commitment",
            kind="unused",
            pricing_category="Committed",
            pricing_unit="Hours",
            resource_id=c.COMMITMENT_ID,
            lag_hours=2.0,
        )
    )
    covered: list[LineItem] = []
    count = max(2, round(2 * scale))
    for account_index in (0, 1):
        region_id = c.home_region(account_index, regions)
        for serial in range(count):
            item = _ec2_instance(
                account_index, c.BASE_ACCOUNT_IDS[account_index], region_id, "m6i.2xlarge", 100 + serial
            )
            item.kind = "covered"
            item.pricing_category = "Committed"
            item.description = "m6i.2xlarge covered by Compute Savings Plan"
            item.lag_hours = 2.0
            covered.append(item)
    for item in covered:
        item.weight = 1.0 / len(covered)
    return items + covered


def _ai_items(regions: list[str]) -> list[LineItem]:
    """OpenSearch Serverless, Bedrock and SageMaker line items of accounts 4 and 5."""
    items: list[LineItem] = []

    def ocu(index: int, meter: str) -> LineItem:
        account_id = c.BASE_ACCOUNT_IDS[index]
        collection = _stable_hex(account_id + "collection", 20)
        return LineItem(
            account_index=index,
            service_name="Amazon OpenSearch Service",
            service_code="AmazonES",
            service_category="Analytics",
            service_subcategory="Search",
            region_id=c.OCU_REGION,
            sku_meter=f"{c.usage_prefix(c.OCU_REGION)}-{meter}",
            operation="ESServerless",
            description=f"$0.24 per OCU-hour for {meter}",
            unit_price=0.24,
            quantity_per_hour=2.0,
            noise=0.05,
            pricing_unit="OCU-Hours",
            resource_id=f"arn:aws:aoss:{c.OCU_REGION}:{account_id}:collection/{collection}",
            resource_type="Collection",
            tags={"Application": "knowledge-base"},
        )

    def bedrock(index: int, region_id: str) -> LineItem:
        meter = f"{c.usage_prefix(region_id)}-Claude3Sonnet-input-tokens"
        return LineItem(
            account_index=index,
            service_name="Amazon Bedrock",
            service_code="AmazonBedrock",
            service_category="AI and Machine Learning",
            service_subcategory="Generative AI",
            region_id=region_id,
            sku_meter=meter,
            operation="InvokeModelInference",
            description="$0.003 per 1K input tokens for Claude 3 Sonnet",
            unit_price=0.003,
            quantity_per_hour=300.0,
            noise=0.3,
            pricing_unit="1000 Tokens",
            tags={"Application": "knowledge-base"},
        )

    for index in (4, 5):
        items.append(ocu(index, "IndexingOCU"))
        items.append(ocu(index, "SearchOCU"))
    items.append(bedrock(4, c.OCU_REGION))
    items.append(bedrock(5, c.BEDROCK_OTHER_REGION))
    marketplace = bedrock(5, c.BEDROCK_OTHER_REGION)
    marketplace.service_name = "Claude 3.5 Sonnet (Amazon Bedrock Edition)"
    # Third-party models bill through AWS Marketplace under an opaque product code.
    marketplace.service_code = "c3q8nyxxl0ebhumw4f2mjquvt"
    marketplace.sku_meter = f"{c.usage_prefix(c.BEDROCK_OTHER_REGION)}-MP:Claude35Sonnet-input-tokens"
    marketplace.publisher_name = "Anthropic"
    marketplace.description = "Claude 3.5 Sonnet input tokens (Amazon Bedrock Edition)"
    items.append(marketplace)
    items.append(_sagemaker_endpoint(5, c.BUSY_ENDPOINT_ARN, c.ENDPOINT_BUSY_NAME))
    return items


def _sagemaker_endpoint(index: int, arn: str, name: str) -> LineItem:
    return LineItem(
        account_index=index,
        service_name="Amazon SageMaker",
        service_code="AmazonSageMaker",
        service_category="AI and Machine Learning",
        service_subcategory="Machine Learning",
        region_id=c.SAGEMAKER_REGION,
        sku_meter=f"{c.usage_prefix(c.SAGEMAKER_REGION)}-Host:ml.m5.large",
        operation="RunInstance",
        description="$0.115 per Hosting ml.m5.large hour",
        unit_price=0.115,
        quantity_per_hour=1.0,
        noise=0.0,
        resource_id=arn,
        resource_name=name,
        resource_type="Endpoint",
        sku_price_details={"InstanceType": "ml.m5.large"},
        tags={"Application": name},
    )


def scenario_items(
    scenarios: set[str] | frozenset[str], regions: list[str], scenario_day: date, current_start: date
) -> list[LineItem]:
    """Return the extra line items of the scenarios, all billed on or before ``scenario_day``."""
    items: list[LineItem] = []
    if "new_region" in scenarios:
        item = _ec2_instance(1, c.NEW_REGION_ACCOUNT, c.NEW_REGION, "t3.micro", 900)
        item.first_day = item.last_day = scenario_day
        items.append(item)
    if "new_service" in scenarios:
        region_id = c.home_region(2, regions)
        items.append(
            LineItem(
                account_index=2,
                service_name=c.NEW_SERVICE_NAME,
                service_code=c.NEW_SERVICE_CODE,
                service_category="Databases",
                service_subcategory="NoSQL Databases",
                region_id=region_id,
                sku_meter=f"{c.usage_prefix(region_id)}-WriteRequestUnits",
                operation="PayPerRequestThroughput",
                description="$0.625 per million write request units",
                unit_price=0.625,
                quantity_per_hour=0.2,
                noise=0.1,
                pricing_unit="WriteRequestUnits (millions)",
                resource_id=f"arn:aws:dynamodb:{region_id}:{c.NEW_SERVICE_ACCOUNT}:table/orders",
                resource_type="Table",
                first_day=scenario_day,
                last_day=scenario_day,
            )
        )
    if "egress_spike" in scenarios:
        region_id = c.home_region(3, regions)
        item = _transfer(3, region_id, transfer_out_meter(region_id), 0.0, 0.09)
        item.cost_per_hour = c.EGRESS_SPIKE_COST / 24.0
        item.noise = 0.0
        item.resource_id = "i-0" + _stable_hex("egress-spike", 16)
        item.first_day = item.last_day = scenario_day
        items.append(item)
    if "idle_sagemaker_endpoint" in scenarios:
        item = _sagemaker_endpoint(5, c.IDLE_ENDPOINT_ARN, c.ENDPOINT_IDLE_NAME)
        item.first_day = max(current_start, scenario_day - timedelta(days=9))
        item.last_day = scenario_day
        items.append(item)
    return items


def build_line_items(
    *,
    accounts: int,
    regions: list[str],
    rows_scale: float,
    scenarios: set[str] | frozenset[str],
    scenario_day: date,
    current_start: date,
    seed: int,
) -> list[LineItem]:
    """Return every line item of the organisation: baseline first, scenario line items last.

    Scenario line items come last so that the random draws of the baseline (which the generator
    takes per line item and charge period, in this order) do not depend on the scenarios.
    """
    rng = np.random.default_rng([seed, 1])
    ids = c.account_ids(accounts)
    items: list[LineItem] = []
    for index, account_id in enumerate(ids):
        items.extend(_baseline_items(index, account_id, c.home_region(index, regions), rows_scale))
    if accounts >= c.MIN_ACCOUNTS_FOR_SCENARIOS:
        items.extend(_management_items(regions, rows_scale))
        items.extend(_ai_items(regions))
    for item in items:
        if item.kind in ("usage", "tax") and item.lag_hours == 0.0:
            # Usage reaches the export between 1 and 20 hours after its charge period ends.
            item.lag_hours = float(rng.integers(1, 21))
    if "orphaned_search_ocu" in scenarios:
        for item in items:
            if item.account_index == 4 and item.service_code == "AmazonBedrock":
                item.last_day = scenario_day - timedelta(days=c.BEDROCK_STOP_DAYS)
    items.extend(scenario_items(scenarios, regions, scenario_day, current_start))
    return items
