# Defaults equal the defaults of focus_pipeline.config.PipelineConfig, so a deployment that keeps
# them needs no focus_pipeline_config Variable at all. Bucket names are global: override them.

variable "region" {
  description = "AWS region of the pipeline resources (PipelineConfig.region_name)."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default = {
    project = "focus-billing-pipeline"
  }
}

variable "aws_conn_id" {
  description = "Airflow connection id the DAGs use for AWS (PipelineConfig.aws_conn_id)."
  type        = string
  default     = "aws_default"
}

# --- AWS Data Exports location ------------------------------------------------------------------

variable "export_bucket" {
  description = "Bucket that AWS Data Exports writes the FOCUS export to (PipelineConfig.export_bucket)."
  type        = string
  default     = "focus-billing-exports"
}

variable "export_prefix" {
  description = "Key prefix of the export inside export_bucket, without slashes at either end."
  type        = string
  default     = "exports"

  validation {
    condition     = !startswith(var.export_prefix, "/") && !endswith(var.export_prefix, "/")
    error_message = "The export_prefix must not start or end with a slash, for example \"exports\"."
  }
}

variable "export_name" {
  description = "Name of the Data Exports export; it is also the folder under export_prefix."
  type        = string
  default     = "focus-export"
}

variable "create_export" {
  description = "Create the AWS Data Exports export (FOCUS_1_2_AWS, Parquet) that writes to export_bucket."
  type        = bool
  default     = false
}

variable "export_overwrite" {
  description = "Data Exports overwrite mode: OVERWRITE_REPORT or CREATE_NEW_REPORT (the pipeline handles both)."
  type        = string
  default     = "OVERWRITE_REPORT"

  validation {
    condition     = contains(["OVERWRITE_REPORT", "CREATE_NEW_REPORT"], var.export_overwrite)
    error_message = "The export_overwrite must be OVERWRITE_REPORT or CREATE_NEW_REPORT."
  }
}

variable "raw_delivery_expiration_days" {
  description = "Days after which raw export objects expire; 0 keeps them forever (the default)."
  type        = number
  default     = 0
}

# --- Pipeline bucket ----------------------------------------------------------------------------

variable "bucket" {
  description = "Pipeline bucket: snapshots, findings, delivery log, validation and Athena results."
  type        = string
  default     = "focus-billing-pipeline"
}

variable "snapshots_prefix" {
  description = "Key prefix of the staged snapshots, without slashes at either end; the crawler reads it."
  type        = string
  default     = "focus/snapshots"

  validation {
    condition     = !startswith(var.snapshots_prefix, "/") && !endswith(var.snapshots_prefix, "/")
    error_message = "The snapshots_prefix must not start or end with a slash, for example \"focus/snapshots\"."
  }
}

variable "findings_prefix" {
  description = "Key prefix of the findings log (JSON lines, Glue table findings)."
  type        = string
  default     = "findings"
}

variable "deliveries_prefix" {
  description = "Key prefix of the delivery log (one record per processed execution id)."
  type        = string
  default     = "deliveries"
}

variable "validation_prefix" {
  description = "Key prefix of the validation results."
  type        = string
  default     = "validation"
}

variable "snapshot_transition_days" {
  description = "Days after which staged snapshots move to S3 Intelligent-Tiering. Snapshots never expire."
  type        = number
  default     = 30
}

variable "athena_results_expiration_days" {
  description = "Days after which objects under athena-results/ expire."
  type        = number
  default     = 30
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions expire in both buckets."
  type        = number
  default     = 90
}

variable "access_log_bucket" {
  description = "Existing bucket for S3 server access logs of both buckets; empty disables access logging."
  type        = string
  default     = ""
}

# --- Catalog, engine, alerts --------------------------------------------------------------------

variable "database" {
  description = "Glue database (PipelineConfig.database)."
  type        = string
  default     = "focus_billing"
}

variable "snapshots_table" {
  description = "Table the crawler creates over snapshots_prefix; it must end with the prefix's last folder."
  type        = string
  default     = "focus_snapshots"
}

variable "current_table" {
  description = "Glue table with one partition per billing period, pointing at the promoted snapshot."
  type        = string
  default     = "focus_current"
}

variable "findings_table" {
  description = "Glue table over the findings log."
  type        = string
  default     = "findings"
}

variable "crawler_name" {
  description = "Glue crawler over the staged snapshots (PipelineConfig.crawler_name)."
  type        = string
  default     = "focus-snapshots"
}

variable "crawler_schedule" {
  description = "Optional cron schedule of the crawler, for example \"cron(15 */8 * * ? *)\"; empty means the DAG starts it."
  type        = string
  default     = ""
}

variable "workgroup" {
  description = "Athena workgroup (PipelineConfig.workgroup)."
  type        = string
  default     = "focus-pipeline"
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Athena cancels a query of the workgroup that scans more than this many bytes (100 GiB)."
  type        = number
  default     = 107374182400
}

variable "topic_name" {
  description = "Name of the SNS topic for alerts; its ARN becomes PipelineConfig.topic_arn."
  type        = string
  default     = "focus-alerts"
}

variable "alert_email" {
  description = "Optional e-mail address subscribed to the topic (AWS sends a confirmation message)."
  type        = string
  default     = ""
}

variable "queue_name" {
  description = "SQS queue that receives an S3 event for every new export manifest."
  type        = string
  default     = "focus-export-manifests"
}

# --- MWAA ---------------------------------------------------------------------------------------

variable "mwaa_execution_role_name" {
  description = "Name of the existing MWAA execution role that gets the pipeline policy; empty only creates the policy."
  type        = string
  default     = ""
}

variable "airflow_secrets_prefixes" {
  description = "Secrets Manager name prefixes the MWAA role may read (connections and variables prefixes of the secrets backend)."
  type        = list(string)
  default     = ["airflow/connections", "airflow/variables"]
}

# --- Pipeline settings passed through to the focus_pipeline_config Variable ----------------------

variable "previous_period_until_day" {
  description = "Keep sensing the previous billing period until this day of the month."
  type        = number
  default     = 15
}

variable "regression_tolerance" {
  description = "Share by which a later delivery may shrink row count or total cost before it is held back."
  type        = number
  default     = 0.02
}

variable "max_attempts" {
  description = "Runs that may fail on one delivery before it is marked failed and the next delivery is taken."
  type        = number
  default     = 3
}

variable "alert_on_backfill" {
  description = "Send alerts for findings of backfill runs."
  type        = bool
  default     = false
}

variable "member_account_roles" {
  description = "Role ARN to assume per member account for CloudWatch reads: {\"<account id>\" = \"<role arn>\"}."
  type        = map(string)
  default     = {}
}

variable "athena_output_location" {
  description = "Query result location the DAGs pass to Athena; null uses s3://<bucket>/athena-results/ (the workgroup enforces its own)."
  type        = string
  default     = null
}

variable "poll_seconds" {
  description = "Seconds between status checks of Athena queries run by validation and normalisation."
  type        = number
  default     = 1.0
}

variable "current_layout" {
  description = "Layout of the current snapshots: \"period\" (focus_current only) or \"period_account\" (also focus_current_by_account, created by the promotion task)."
  type        = string
  default     = "period"
}

variable "current_by_account_table" {
  description = "Glue table partitioned by billing period and account, used when current_layout is \"period_account\"."
  type        = string
  default     = "focus_current_by_account"
}

variable "by_account_prefix" {
  description = "Key prefix of the account-partitioned copies of promoted snapshots."
  type        = string
  default     = "focus/by_account"
}

variable "incomplete_delivery_hours" {
  description = "Hours a manifest may wait for its data files before the delivery sensor fails and alerts."
  type        = number
  default     = 6.0
}
