/*
id: new_service
title: Service used for the first time
severity: medium
workload: security
schedule: per_delivery
lookback_days: 30
lookback_threshold: new_service_lookback_days
required_columns: [SubAccountId, ChargeCategory, ChargePeriodStart, EffectiveCost, ServiceName,
  x_ServiceCode]
description: >
  A service (x_ServiceCode, falling back to ServiceName when it is NULL or empty) with charge rows in
  the detection window and none in the lookback before it. Every charge row except Tax and Credit
  rows counts, zero-cost rows included. With thresholds.new_service_scope 'account' the service must
  be new to the account (SubAccountId); with 'organization' it must be new to every account of the
  export, and sub_account_id is NULL while the evidence lists the accounts.
false_positives:
  - A team adopting a service on purpose.
  - A service that AWS renames or splits, which changes x_ServiceCode.
remediation: >
  Ask the account owner whether the service is expected. If not, find who created the resources in
  CloudTrail and restrict the service with a Service Control Policy.
references:
  - https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-aws.html
  - https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
  - https://focus.finops.org/focus-specification/v1-2/
status: stable
*/
{%- set organization = params.thresholds.new_service_scope == 'organization' %}
WITH charge_rows AS (
    SELECT
        subaccountid,
        {% if organization %}'*'{% else %}subaccountid{% endif %} AS scope_key,
        COALESCE(NULLIF(x_servicecode, ''), servicename) AS service_code,
        chargeperiodstart,
        effectivecost
    FROM {{ params.database }}.{{ params.table }}
    WHERE billing_period IN ({{ params.periods_sql }})
        AND chargeperiodstart >= TIMESTAMP '{{ params.lookback_start }}'
        AND chargeperiodstart < TIMESTAMP '{{ params.window_end }}'
        AND chargecategory NOT IN ('Tax', 'Credit')
        AND COALESCE(NULLIF(x_servicecode, ''), servicename) IS NOT NULL
),
window_services AS (
    SELECT scope_key, service_code,
        min(chargeperiodstart) AS first_seen,
        sum(effectivecost) AS effective_cost,
        count(*) AS row_count,
        array_join(array_sort(array_agg(DISTINCT subaccountid)), ',') AS accounts
    FROM charge_rows
    WHERE chargeperiodstart >= TIMESTAMP '{{ params.window_start }}'
    GROUP BY scope_key, service_code
),
history_services AS (
    SELECT DISTINCT scope_key, service_code
    FROM charge_rows
    WHERE chargeperiodstart < TIMESTAMP '{{ params.window_start }}'
)
SELECT
    '{{ params.detection_id }}' AS detection_id,
    '{{ params.severity }}' AS severity,
    '{{ params.billing_period }}' AS billing_period,
    NULLIF(w.scope_key, '*') AS sub_account_id,
    CAST(NULL AS varchar) AS region_id,
    w.service_code AS service_code,
    CAST(NULL AS varchar) AS resource_id,
    CAST(NULL AS varchar) AS commitment_discount_id,
    date_format(w.first_seen, '%Y-%m-%d %H:%i:%s') AS first_seen,
    round(w.effective_cost, 2) AS amount,
    json_format(CAST(MAP(
        ARRAY['accounts', 'effective_cost', 'lookback_start', 'row_count', 'scope'],
        ARRAY[
            w.accounts,
            CAST(CAST(round(w.effective_cost, 2) AS decimal(18, 2)) AS varchar),
            '{{ params.lookback_start }}',
            CAST(w.row_count AS varchar),
            '{{ params.thresholds.new_service_scope }}'
        ]
    ) AS JSON)) AS evidence
FROM window_services AS w
LEFT JOIN history_services AS h
    ON h.scope_key = w.scope_key AND h.service_code = w.service_code
WHERE h.service_code IS NULL
ORDER BY sub_account_id, service_code
