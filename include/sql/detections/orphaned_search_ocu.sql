/*
id: orphaned_search_ocu
title: OpenSearch Serverless OCUs without Bedrock use
severity: medium
workload: cost
schedule: daily
lookback_days: 7
lookback_threshold: ocu_lookback_days
required_columns: [SubAccountId, RegionId, ResourceId, ChargeCategory, ChargePeriodStart, BilledCost,
  EffectiveCost, ServiceName, SkuMeter, x_ServiceCode]
description: >
  OpenSearch Serverless OCU charges (x_ServiceCode AmazonES, SkuMeter containing IndexingOCU or
  SearchOCU) in the detection window, in an account with no Bedrock spend (x_ServiceCode starting
  with AmazonBedrock, or a ServiceName containing Bedrock such as Marketplace models) in any region
  over the window and the lookback days before it. This is the trace of a Bedrock knowledge base
  that was deleted while its vector collection kept billing. The OCU cost over the window and the
  lookback must reach ocu_min_cost. The amount is the OCU cost in the window, and the evidence holds
  the projected monthly waste (average daily OCU cost over the days with OCU charges, times 30).
false_positives:
  - Collections used for search or log analytics without Bedrock.
  - Bedrock billed to another account of the organisation than the collection.
remediation: >
  Check whether a knowledge base still uses the collection (bedrock-agent list-knowledge-bases).
  If none does, delete the collection, or its OCUs keep billing.
references:
  - https://docs.aws.amazon.com/opensearch-service/latest/developerguide/serverless-overview.html#serverless-pricing
  - https://docs.aws.amazon.com/bedrock/latest/userguide/knowledge-base-setup.html
  - https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-aws.html
status: stable
*/
WITH recent AS (
    SELECT subaccountid, regionid, resourceid, chargecategory, chargeperiodstart, billedcost,
        effectivecost, servicename, skumeter, x_servicecode
    FROM {{ params.database }}.{{ params.table }}
    WHERE billing_period IN ({{ params.periods_sql }})
        AND chargeperiodstart >= TIMESTAMP '{{ params.lookback_start }}'
        AND chargeperiodstart < TIMESTAMP '{{ params.window_end }}'
),
ocu AS (
    SELECT subaccountid, regionid, resourceid,
        min(chargeperiodstart) AS first_seen,
        sum(effectivecost) AS range_cost,
        sum(CASE WHEN chargeperiodstart >= TIMESTAMP '{{ params.window_start }}'
            THEN effectivecost ELSE 0 END) AS window_cost,
        count(DISTINCT CAST(date_trunc('day', chargeperiodstart) AS date)) AS ocu_days
    FROM recent
    WHERE chargecategory = 'Usage'
        AND x_servicecode = 'AmazonES'
        AND (skumeter LIKE '%IndexingOCU%' OR skumeter LIKE '%SearchOCU%')
    GROUP BY subaccountid, regionid, resourceid
),
bedrock_accounts AS (
    SELECT DISTINCT subaccountid
    FROM recent
    WHERE chargecategory = 'Usage'
        AND (billedcost <> 0 OR effectivecost <> 0)
        AND (x_servicecode LIKE 'AmazonBedrock%' OR servicename LIKE '%Bedrock%')
)
SELECT
    '{{ params.detection_id }}' AS detection_id,
    '{{ params.severity }}' AS severity,
    '{{ params.billing_period }}' AS billing_period,
    o.subaccountid AS sub_account_id,
    o.regionid AS region_id,
    'AmazonES' AS service_code,
    o.resourceid AS resource_id,
    CAST(NULL AS varchar) AS commitment_discount_id,
    date_format(o.first_seen, '%Y-%m-%d %H:%i:%s') AS first_seen,
    round(o.window_cost, 2) AS amount,
    json_format(CAST(MAP(
        ARRAY['daily_average', 'lookback_cost', 'lookback_start', 'ocu_days', 'projected_monthly_waste'],
        ARRAY[
            CAST(CAST(round(o.range_cost / o.ocu_days, 2) AS decimal(18, 2)) AS varchar),
            CAST(CAST(round(o.range_cost, 2) AS decimal(18, 2)) AS varchar),
            '{{ params.lookback_start }}',
            CAST(o.ocu_days AS varchar),
            CAST(CAST(round(o.range_cost / o.ocu_days * 30, 2) AS decimal(18, 2)) AS varchar)
        ]
    ) AS JSON)) AS evidence
FROM ocu AS o
LEFT JOIN bedrock_accounts AS b
    ON b.subaccountid = o.subaccountid
WHERE b.subaccountid IS NULL
    AND o.window_cost > 0
    AND o.range_cost >= {{ params.thresholds.ocu_min_cost }}
ORDER BY sub_account_id, region_id, resource_id
