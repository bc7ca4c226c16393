locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  export_root      = "${var.export_prefix}/${var.export_name}"
  manifests_prefix = "${local.export_root}/metadata/"

  # The crawler names its table after the last folder of the S3 target and prepends table_prefix:
  # "focus/snapshots" with prefix "focus_" gives the table focus_snapshots.
  snapshots_leaf       = element(split("/", var.snapshots_prefix), length(split("/", var.snapshots_prefix)) - 1)
  crawler_table_prefix = trimsuffix(var.snapshots_table, local.snapshots_leaf)

  # Deliveries that need normalisation are first copied next to the snapshots folder, to
  # "<parent of snapshots_prefix>/raw/" (focus_pipeline.staging.raw_prefix), where the crawler
  # never looks: "focus/snapshots" gives "focus/raw".
  raw_prefix = "${trimsuffix(var.snapshots_prefix, local.snapshots_leaf)}raw"
  # Key prefix of the period_account copies; focus_pipeline.layout strips its slashes the same way.
  by_account_root = trim(var.by_account_prefix, "/")

  athena_results_prefix = "athena-results/"
  athena_output         = "s3://${var.bucket}/${local.athena_results_prefix}"

  glue_catalog_arn  = "arn:${local.partition}:glue:${var.region}:${local.account_id}:catalog"
  glue_database_arn = "arn:${local.partition}:glue:${var.region}:${local.account_id}:database/${var.database}"
  # Append "/<table name>" for the ARN of one table of the database.
  glue_table_arn_prefix = "arn:${local.partition}:glue:${var.region}:${local.account_id}:table/${var.database}"
  # Normalisation creates and drops one temporary table per delivery, named by
  # focus_pipeline.normalise.temporary_table_name.
  normalise_table_pattern = "tmp_normalise_*"

  # Lower-case Glue names of the 60 FOCUS_1_2_AWS columns with the Hive types AWS delivers, in the
  # order of focus_pipeline.focus_schema.AWS_FOCUS_1_2_COLUMNS (a unit test compares both).
  focus_columns = [
    { name = "availabilityzone", type = "string" },
    { name = "billedcost", type = "double" },
    { name = "billingaccountid", type = "string" },
    { name = "billingaccountname", type = "string" },
    { name = "billingaccounttype", type = "string" },
    { name = "billingcurrency", type = "string" },
    { name = "billingperiodend", type = "timestamp" },
    { name = "billingperiodstart", type = "timestamp" },
    { name = "capacityreservationid", type = "string" },
    { name = "capacityreservationstatus", type = "string" },
    { name = "chargecategory", type = "string" },
    { name = "chargeclass", type = "string" },
    { name = "chargedescription", type = "string" },
    { name = "chargefrequency", type = "string" },
    { name = "chargeperiodend", type = "timestamp" },
    { name = "chargeperiodstart", type = "timestamp" },
    { name = "commitmentdiscountcategory", type = "string" },
    { name = "commitmentdiscountid", type = "string" },
    { name = "commitmentdiscountname", type = "string" },
    { name = "commitmentdiscountquantity", type = "double" },
    { name = "commitmentdiscountstatus", type = "string" },
    { name = "commitmentdiscounttype", type = "string" },
    { name = "commitmentdiscountunit", type = "string" },
    { name = "consumedquantity", type = "double" },
    { name = "consumedunit", type = "string" },
    { name = "contractedcost", type = "double" },
    { name = "contractedunitprice", type = "double" },
    { name = "effectivecost", type = "double" },
    { name = "invoiceid", type = "string" },
    { name = "invoiceissuername", type = "string" },
    { name = "listcost", type = "double" },
    { name = "listunitprice", type = "double" },
    { name = "pricingcategory", type = "string" },
    { name = "pricingcurrency", type = "string" },
    { name = "pricingcurrencycontractedunitprice", type = "double" },
    { name = "pricingcurrencyeffectivecost", type = "double" },
    { name = "pricingcurrencylistunitprice", type = "double" },
    { name = "pricingquantity", type = "double" },
    { name = "pricingunit", type = "string" },
    { name = "providername", type = "string" },
    { name = "publishername", type = "string" },
    { name = "regionid", type = "string" },
    { name = "regionname", type = "string" },
    { name = "resourceid", type = "string" },
    { name = "resourcename", type = "string" },
    { name = "resourcetype", type = "string" },
    { name = "servicecategory", type = "string" },
    { name = "servicename", type = "string" },
    { name = "servicesubcategory", type = "string" },
    { name = "skuid", type = "string" },
    { name = "skumeter", type = "string" },
    { name = "skupricedetails", type = "map<string,string>" },
    { name = "skupriceid", type = "string" },
    { name = "subaccountid", type = "string" },
    { name = "subaccountname", type = "string" },
    { name = "subaccounttype", type = "string" },
    { name = "tags", type = "map<string,string>" },
    { name = "x_discounts", type = "map<string,double>" },
    { name = "x_operation", type = "string" },
    { name = "x_servicecode", type = "string" },
  ]

  # Columns of the findings log; every finding is one JSON line.
  findings_columns = [
    { name = "detection_id", type = "string" },
    { name = "fingerprint", type = "string" },
    { name = "severity", type = "string" },
    { name = "workload", type = "string" },
    { name = "billing_period", type = "string" },
    { name = "sub_account_id", type = "string" },
    { name = "region_id", type = "string" },
    { name = "service_code", type = "string" },
    { name = "resource_id", type = "string" },
    { name = "commitment_discount_id", type = "string" },
    { name = "first_seen", type = "string" },
    { name = "amount", type = "double" },
    { name = "evidence", type = "string" },
    { name = "status", type = "string" },
    { name = "execution_id", type = "string" },
    { name = "recorded_at", type = "string" },
  ]

  # Value of the focus_pipeline_config Airflow Variable: the keys of PipelineConfig except
  # thresholds, which keep their defaults unless set in the Variable by hand.
  airflow_variable = {
    aws_conn_id               = var.aws_conn_id
    region_name               = var.region
    export_bucket             = var.export_bucket
    export_prefix             = var.export_prefix
    export_name               = var.export_name
    bucket                    = var.bucket
    snapshots_prefix          = var.snapshots_prefix
    findings_prefix           = var.findings_prefix
    deliveries_prefix         = var.deliveries_prefix
    validation_prefix         = var.validation_prefix
    database                  = var.database
    snapshots_table           = var.snapshots_table
    current_table             = var.current_table
    findings_table            = var.findings_table
    crawler_name              = var.crawler_name
    workgroup                 = var.workgroup
    topic_arn                 = aws_sns_topic.alerts.arn
    previous_period_until_day = var.previous_period_until_day
    regression_tolerance      = var.regression_tolerance
    max_attempts              = var.max_attempts
    incomplete_delivery_hours = var.incomplete_delivery_hours
    alert_on_backfill         = var.alert_on_backfill
    member_account_roles      = var.member_account_roles
    athena_output_location    = var.athena_output_location
    poll_seconds              = var.poll_seconds
    current_layout            = var.current_layout
    current_by_account_table  = var.current_by_account_table
    by_account_prefix         = var.by_account_prefix
  }
}
