/*
id: egress_spike
title: Data egress out of proportion to compute
severity: high
workload: security
schedule: per_delivery
lookback_days: 14
lookback_threshold: egress_baseline_days
required_columns: [SubAccountId, ChargeCategory, ChargePeriodStart, EffectiveCost, ServiceCategory,
  SkuMeter, CommitmentDiscountStatus]
description: >
  Per account and UTC day, the egress cost (SkuMeter containing DataTransfer-Out-Bytes for internet
  egress or AWS-Out-Bytes for inter-region transfer) divided by the compute cost (ServiceCategory
  Compute without transfer rows, which are SkuMeter DataTransfer-Out-Bytes, AWS-Out-Bytes,
  DataTransfer-Regional-Bytes, NatGateway-Bytes or TransitGateway-Bytes). Transfer is classified by
  SkuMeter only, because EC2 transfer rows carry ServiceCategory Compute. Costs are EffectiveCost of
  Usage rows, so compute covered by a commitment counts, and unused commitment rows are left out. A
  day alerts when its egress cost is at least egress_min_cost and either the account had no compute
  cost that day, or the ratio is above egress_ratio and above egress_baseline_factor times the
  median daily ratio of the account over the egress_baseline_days before that day (no baseline days
  pass this test). One row per account sums its alerting days in the window.
false_positives:
  - Accounts that serve content or replicate data across regions without compute of their own.
  - A planned migration or a backup copied to another region.
remediation: >
  Find the resources behind the transfer rows (ResourceId) and the destinations in VPC Flow Logs or
  S3 server access logs. Check CloudTrail for new access keys, bucket policy changes and snapshot
  sharing. Block unexpected destinations and rotate exposed credentials.
references:
  - https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-aws.html
  - https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer
  - https://focus.finops.org/focus-specification/v1-2/
status: experimental
*/
WITH classified AS (
    SELECT
        subaccountid,
        chargeperiodstart,
        CAST(date_trunc('day', chargeperiodstart) AS date) AS usage_day,
        effectivecost,
        servicecategory,
        (COALESCE(skumeter, '') LIKE '%DataTransfer-Out-Bytes%'
            OR COALESCE(skumeter, '') LIKE '%AWS-Out-Bytes%') AS is_egress,
        (COALESCE(skumeter, '') LIKE '%DataTransfer-Out-Bytes%'
            OR COALESCE(skumeter, '') LIKE '%AWS-Out-Bytes%'
            OR COALESCE(skumeter, '') LIKE '%DataTransfer-Regional-Bytes%'
            OR COALESCE(skumeter, '') LIKE '%NatGateway-Bytes%'
            OR COALESCE(skumeter, '') LIKE '%TransitGateway-Bytes%') AS is_transfer
    FROM {{ params.database }}.{{ params.table }}
    WHERE billing_period IN ({{ params.periods_sql }})
        AND chargeperiodstart >= TIMESTAMP '{{ params.lookback_start }}'
        AND chargeperiodstart < TIMESTAMP '{{ params.window_end }}'
        AND chargecategory = 'Usage'
        AND COALESCE(commitmentdiscountstatus, '') <> 'Unused'
),
daily AS (
    SELECT
        subaccountid,
        usage_day,
        sum(CASE WHEN is_egress THEN effectivecost ELSE 0 END) AS egress_cost,
        sum(CASE WHEN servicecategory = 'Compute' AND NOT is_transfer THEN effectivecost ELSE 0 END)
            AS compute_cost,
        min(CASE WHEN is_egress THEN chargeperiodstart END) AS first_egress
    FROM classified
    GROUP BY subaccountid, usage_day
),
ratios AS (
    SELECT *, CASE WHEN compute_cost > 0 THEN egress_cost / compute_cost END AS ratio
    FROM daily
),
scored AS (
    SELECT
        d.subaccountid, d.usage_day, d.egress_cost, d.compute_cost, d.first_egress, d.ratio,
        approx_percentile(b.ratio, 0.5) AS baseline_ratio
    FROM ratios AS d
    LEFT JOIN ratios AS b
        ON b.subaccountid = d.subaccountid
        AND b.usage_day < d.usage_day
        AND b.usage_day >= date_add('day', -{{ params.thresholds.egress_baseline_days }}, d.usage_day)
    WHERE d.usage_day >= CAST(TIMESTAMP '{{ params.window_start }}' AS date)
    GROUP BY d.subaccountid, d.usage_day, d.egress_cost, d.compute_cost, d.first_egress, d.ratio
),
alert_days AS (
    SELECT *
    FROM scored
    WHERE egress_cost >= {{ params.thresholds.egress_min_cost }}
        AND (
            compute_cost <= 0
            OR (
                ratio > {{ params.thresholds.egress_ratio }}
                AND (baseline_ratio IS NULL
                    OR ratio > {{ params.thresholds.egress_baseline_factor }} * baseline_ratio)
            )
        )
)
SELECT
    '{{ params.detection_id }}' AS detection_id,
    '{{ params.severity }}' AS severity,
    '{{ params.billing_period }}' AS billing_period,
    subaccountid AS sub_account_id,
    CAST(NULL AS varchar) AS region_id,
    CAST(NULL AS varchar) AS service_code,
    CAST(NULL AS varchar) AS resource_id,
    CAST(NULL AS varchar) AS commitment_discount_id,
    date_format(min(first_egress), '%Y-%m-%d %H:%i:%s') AS first_seen,
    round(sum(egress_cost), 2) AS amount,
    json_format(CAST(MAP(
        ARRAY['alert_days', 'compute_cost', 'egress_cost', 'max_baseline_ratio', 'max_ratio'],
        ARRAY[
            array_join(array_sort(array_agg(date_format(usage_day, '%Y-%m-%d'))), ','),
            CAST(CAST(round(sum(compute_cost), 2) AS decimal(18, 2)) AS varchar),
            CAST(CAST(round(sum(egress_cost), 2) AS decimal(18, 2)) AS varchar),
            CAST(CAST(round(max(baseline_ratio), 4) AS decimal(18, 4)) AS varchar),
            CAST(CAST(round(max(ratio), 4) AS decimal(18, 4)) AS varchar)
        ]
    ) AS JSON)) AS evidence
FROM alert_days
GROUP BY subaccountid
ORDER BY sub_account_id
