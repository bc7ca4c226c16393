/*
id: idle_sagemaker_endpoint
title: SageMaker endpoint billing hosting hours without invocations
severity: medium
workload: cost
schedule: daily
lookback_days: 7
lookback_threshold: sagemaker_lookback_days
required_columns: [SubAccountId, RegionId, ResourceId, ChargeCategory, ChargePeriodStart,
  ConsumedQuantity, EffectiveCost, SkuMeter]
description: >
  Candidate endpoints: a ResourceId of the form arn:aws:sagemaker:<region>:<account>:endpoint/<name>
  with hosting instance hours (SkuMeter containing Host:) in the detection window. The amount and
  hours cover the check range, from lookback_start to window_end, and the hosting cost over that
  range must reach sagemaker_min_cost. Billing cannot see invocations, so the runner reads the
  CloudWatch Invocations metric (AWS/SageMaker) over the same range and reports each candidate as
  idle (0 invocations), busy (not a finding) or unverified (metrics could not be read).
false_positives:
  - Endpoints kept warm on purpose for rare, latency-sensitive traffic.
  - Endpoints invoked only by scheduled jobs that run less often than the check range.
remediation: >
  Confirm with the owner, then delete the endpoint (keep the endpoint configuration and model to
  recreate it), switch it to Serverless Inference, or scale its instances to zero with an
  inference component.
references:
  - https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
  - https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-delete-resources.html
  - https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-aws.html
status: stable
*/
WITH hosting AS (
    SELECT subaccountid, regionid, resourceid, chargeperiodstart, consumedquantity, effectivecost
    FROM {{ params.database }}.{{ params.table }}
    WHERE billing_period IN ({{ params.periods_sql }})
        AND chargeperiodstart >= TIMESTAMP '{{ params.lookback_start }}'
        AND chargeperiodstart < TIMESTAMP '{{ params.window_end }}'
        AND chargecategory = 'Usage'
        AND resourceid LIKE 'arn:aws%:sagemaker:%:endpoint/%'
        AND skumeter LIKE '%Host:%'
),
endpoints AS (
    SELECT subaccountid, regionid, resourceid,
        min(chargeperiodstart) AS first_seen,
        sum(COALESCE(consumedquantity, 0)) AS hosting_hours,
        sum(effectivecost) AS hosting_cost,
        sum(CASE WHEN chargeperiodstart >= TIMESTAMP '{{ params.window_start }}'
            THEN COALESCE(consumedquantity, 0) ELSE 0 END) AS window_hours
    FROM hosting
    GROUP BY subaccountid, regionid, resourceid
)
SELECT
    '{{ params.detection_id }}' AS detection_id,
    '{{ params.severity }}' AS severity,
    '{{ params.billing_period }}' AS billing_period,
    subaccountid AS sub_account_id,
    regionid AS region_id,
    'AmazonSageMaker' AS service_code,
    resourceid AS resource_id,
    CAST(NULL AS varchar) AS commitment_discount_id,
    date_format(first_seen, '%Y-%m-%d %H:%i:%s') AS first_seen,
    round(hosting_cost, 2) AS amount,
    json_format(CAST(MAP(
        ARRAY['check_end', 'check_start', 'endpoint_name', 'hosting_hours', 'window_hours'],
        ARRAY[
            '{{ params.window_end }}',
            '{{ params.lookback_start }}',
            regexp_extract(resourceid, 'endpoint/([^/]+)$', 1),
            CAST(CAST(round(hosting_hours, 2) AS decimal(18, 2)) AS varchar),
            CAST(CAST(round(window_hours, 2) AS decimal(18, 2)) AS varchar)
        ]
    ) AS JSON)) AS evidence
FROM endpoints
WHERE window_hours > 0
    AND hosting_cost >= {{ params.thresholds.sagemaker_min_cost }}
ORDER BY sub_account_id, region_id, resource_id
