/*
id: new_region
title: Usage in a region new to the account
severity: high
workload: security
schedule: per_delivery
lookback_days: 90
lookback_threshold: new_region_lookback_days
required_columns: [SubAccountId, RegionId, ChargeCategory, ChargePeriodStart, BilledCost, EffectiveCost,
  ServiceName, x_ServiceCode]
description: >
  A (SubAccountId, RegionId) pair with non-zero usage (a Usage row whose BilledCost or EffectiveCost
  is above new_region_min_cost in absolute value, so one cent counts by default) in the detection
  window and no such usage in the lookback before it. Rows with RegionId global or NULL are ignored.
  Usage covered by a commitment counts through its EffectiveCost.
false_positives:
  - A planned expansion into a new region or a disaster-recovery test.
  - A service that AWS starts to bill in a specific region instead of global.
remediation: >
  Confirm with the account owner that the region is expected. If not, list the resources in the
  region (AWS Resource Explorer, Config), look for unknown IAM principals in CloudTrail, and restrict
  regions with a Service Control Policy using aws:RequestedRegion.
references:
  - https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-aws.html
  - https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_examples_general.html
  - https://focus.finops.org/focus-specification/v1-2/
status: stable
*/
WITH usage_rows AS (
    SELECT subaccountid, regionid, chargeperiodstart, billedcost, effectivecost,
        COALESCE(NULLIF(x_servicecode, ''), servicename) AS service_code
    FROM {{ params.database }}.{{ params.table }}
    WHERE billing_period IN ({{ params.periods_sql }})
        AND chargeperiodstart >= TIMESTAMP '{{ params.lookback_start }}'
        AND chargeperiodstart < TIMESTAMP '{{ params.window_end }}'
        AND chargecategory = 'Usage'
        AND regionid IS NOT NULL
        AND lower(regionid) <> 'global'
        AND (abs(billedcost) > {{ params.thresholds.new_region_min_cost }}
            OR abs(effectivecost) > {{ params.thresholds.new_region_min_cost }})
),
window_pairs AS (
    SELECT subaccountid, regionid,
        min(chargeperiodstart) AS first_seen,
        sum(billedcost) AS billed_cost,
        sum(effectivecost) AS effective_cost,
        count(*) AS row_count,
        array_join(array_sort(array_agg(DISTINCT service_code)), ',') AS services
    FROM usage_rows
    WHERE chargeperiodstart >= TIMESTAMP '{{ params.window_start }}'
    GROUP BY subaccountid, regionid
),
history_pairs AS (
    SELECT DISTINCT subaccountid, regionid
    FROM usage_rows
    WHERE chargeperiodstart < TIMESTAMP '{{ params.window_start }}'
)
SELECT
    '{{ params.detection_id }}' AS detection_id,
    '{{ params.severity }}' AS severity,
    '{{ params.billing_period }}' AS billing_period,
    w.subaccountid AS sub_account_id,
    w.regionid AS region_id,
    CAST(NULL AS varchar) AS service_code,
    CAST(NULL AS varchar) AS resource_id,
    CAST(NULL AS varchar) AS commitment_discount_id,
    date_format(w.first_seen, '%Y-%m-%d %H:%i:%s') AS first_seen,
    round(w.effective_cost, 2) AS amount,
    json_format(CAST(MAP(
        ARRAY['billed_cost', 'effective_cost', 'lookback_start', 'row_count', 'services'],
        ARRAY[
            CAST(CAST(round(w.billed_cost, 2) AS decimal(18, 2)) AS varchar),
            CAST(CAST(round(w.effective_cost, 2) AS decimal(18, 2)) AS varchar),
            '{{ params.lookback_start }}',
            CAST(w.row_count AS varchar),
            w.services
        ]
    ) AS JSON)) AS evidence
FROM window_pairs AS w
LEFT JOIN history_pairs AS h
    ON h.subaccountid = w.subaccountid AND h.regionid = w.regionid
WHERE h.subaccountid IS NULL
ORDER BY sub_account_id, region_id
