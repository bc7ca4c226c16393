/*
id: commitment_drift
title: Commitment under-used, dropping, or not reconciling with its purchases
severity: medium
workload: cost
schedule: daily
lookback_days: 31
required_columns: [ChargeCategory, ChargeFrequency, ChargePeriodStart, BilledCost, EffectiveCost,
  CommitmentDiscountId, CommitmentDiscountStatus]
description: >
  Per CommitmentDiscountId, over the billing period up to window_end (month to date on a daily run):
  utilisation = Used EffectiveCost / (Used + Unused EffectiveCost) of Usage rows. A commitment alerts
  when utilisation is below commitment_min_utilization, when it dropped by more than
  commitment_max_drop (a ratio, 0.1 = 10 percentage points) against the previous billing period, or
  when its amortisation does not reconcile with its purchases. Reconciliation applies to commitments
  with Recurring Purchase rows and no One-Time Purchase row in the period: the sum of Used and Unused
  EffectiveCost must match the Recurring Purchase BilledCost within commitment_reconcile_tolerance
  (a share of the purchase). Utilisation is NULL, and never alerts, without Used or Unused rows.
false_positives:
  - A partial-upfront commitment bought in an earlier period amortises its upfront fee on top of the
    recurring fee, so its amortisation exceeds the Recurring Purchase rows.
  - Planned workload moves between regions or instance families early in a month.
remediation: >
  Move eligible usage onto the commitment (instance family, region, or Compute Savings Plan scope),
  sell unused Standard Reserved Instances on the Reserved Instance Marketplace, and size renewals on
  the measured utilisation. Report a reconciliation gap to AWS Support with the commitment id.
references:
  - https://focus.finops.org/focus-specification/v1-2/
  - https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-aws.html
  - https://docs.aws.amazon.com/savingsplans/latest/userguide/sp-usage.html
status: experimental
*/
WITH commitment_rows AS (
    SELECT billing_period AS period, commitmentdiscountid, commitmentdiscountstatus, chargecategory,
        chargefrequency, chargeperiodstart, billedcost, effectivecost
    FROM {{ params.database }}.{{ params.table }}
    WHERE billing_period IN ('{{ params.billing_period }}', '{{ params.previous_billing_period }}')
        AND billing_period IN ({{ params.periods_sql }})
        AND chargeperiodstart < TIMESTAMP '{{ params.window_end }}'
        AND commitmentdiscountid IS NOT NULL
        AND commitmentdiscountid <> ''
),
per_period AS (
    SELECT period, commitmentdiscountid,
        min(CASE WHEN chargecategory = 'Usage' THEN chargeperiodstart END) AS first_seen,
        sum(CASE WHEN chargecategory = 'Usage' AND commitmentdiscountstatus = 'Used'
            THEN effectivecost ELSE 0 END) AS used_cost,
        sum(CASE WHEN chargecategory = 'Usage' AND commitmentdiscountstatus = 'Unused'
            THEN effectivecost ELSE 0 END) AS unused_cost,
        sum(CASE WHEN chargecategory = 'Purchase' AND chargefrequency = 'Recurring'
            THEN billedcost ELSE 0 END) AS recurring_purchase,
        count_if(chargecategory = 'Purchase' AND chargefrequency = 'Recurring') AS recurring_rows,
        count_if(chargecategory = 'Purchase' AND chargefrequency = 'One-Time') AS one_time_rows
    FROM commitment_rows
    GROUP BY period, commitmentdiscountid
),
utilisation AS (
    SELECT *,
        CASE WHEN used_cost + unused_cost > 0 THEN used_cost / (used_cost + unused_cost) END
            AS utilization
    FROM per_period
),
checked AS (
    SELECT
        c.*,
        p.utilization AS previous_utilization,
        c.used_cost + c.unused_cost - c.recurring_purchase AS reconcile_gap,
        COALESCE(c.utilization < {{ params.thresholds.commitment_min_utilization }}, false) AS is_low,
        COALESCE(
            p.utilization - c.utilization > {{ params.thresholds.commitment_max_drop }}, false
        ) AS is_drop,
        (c.recurring_rows > 0 AND c.one_time_rows = 0
            AND abs(c.used_cost + c.unused_cost - c.recurring_purchase)
                > {{ params.thresholds.commitment_reconcile_tolerance }} * abs(c.recurring_purchase))
            AS is_unreconciled
    FROM utilisation AS c
    LEFT JOIN utilisation AS p
        ON p.commitmentdiscountid = c.commitmentdiscountid
        AND p.period = '{{ params.previous_billing_period }}'
    WHERE c.period = '{{ params.billing_period }}'
)
SELECT
    '{{ params.detection_id }}' AS detection_id,
    '{{ params.severity }}' AS severity,
    '{{ params.billing_period }}' AS billing_period,
    CAST(NULL AS varchar) AS sub_account_id,
    CAST(NULL AS varchar) AS region_id,
    CAST(NULL AS varchar) AS service_code,
    CAST(NULL AS varchar) AS resource_id,
    commitmentdiscountid AS commitment_discount_id,
    date_format(first_seen, '%Y-%m-%d %H:%i:%s') AS first_seen,
    round(CASE WHEN is_low OR is_drop THEN unused_cost ELSE abs(reconcile_gap) END, 2) AS amount,
    json_format(CAST(MAP(
        ARRAY['previous_utilization', 'reasons', 'reconcile_gap', 'recurring_purchase', 'unused_cost',
            'used_cost', 'utilization'],
        ARRAY[
            CAST(CAST(round(previous_utilization, 4) AS decimal(18, 4)) AS varchar),
            concat_ws(',',
                CASE WHEN is_low THEN 'below_min_utilization' END,
                CASE WHEN is_drop THEN 'utilization_drop' END,
                CASE WHEN is_unreconciled THEN 'purchase_mismatch' END),
            CAST(CAST(round(reconcile_gap, 2) AS decimal(18, 2)) AS varchar),
            CAST(CAST(round(recurring_purchase, 2) AS decimal(18, 2)) AS varchar),
            CAST(CAST(round(unused_cost, 2) AS decimal(18, 2)) AS varchar),
            CAST(CAST(round(used_cost, 2) AS decimal(18, 2)) AS varchar),
            CAST(CAST(round(utilization, 4) AS decimal(18, 4)) AS varchar)
        ]
    ) AS JSON)) AS evidence
FROM checked
WHERE is_low OR is_drop OR is_unreconciled
ORDER BY commitment_discount_id
