output "export_bucket" {
  description = "Bucket that AWS Data Exports writes to."
  value       = aws_s3_bucket.exports.bucket
}

output "export_root" {
  description = "Key prefix of the export: <export_prefix>/<export_name>."
  value       = local.export_root
}

output "bucket" {
  description = "Pipeline bucket."
  value       = aws_s3_bucket.pipeline.bucket
}

output "kms_key_arn" {
  description = "Customer managed key of the pipeline bucket, Athena results and the topic."
  value       = aws_kms_key.pipeline.arn
}

output "database" {
  description = "Glue database."
  value       = aws_glue_catalog_database.focus.name
}

output "crawler_name" {
  description = "Glue crawler over the staged snapshots."
  value       = aws_glue_crawler.snapshots.name
}

output "current_table" {
  description = "Glue table with the promoted snapshot of each billing period."
  value       = aws_glue_catalog_table.current.name
}

output "findings_table" {
  description = "Glue table over the findings log."
  value       = aws_glue_catalog_table.findings.name
}

output "workgroup" {
  description = "Athena workgroup."
  value       = aws_athena_workgroup.pipeline.name
}

output "athena_output" {
  description = "Result location the workgroup enforces."
  value       = local.athena_output
}

output "topic_arn" {
  description = "SNS topic for alerts."
  value       = aws_sns_topic.alerts.arn
}

output "queue_url" {
  description = "SQS queue that receives an event per new export manifest."
  value       = aws_sqs_queue.manifests.id
}

output "mwaa_policy_arn" {
  description = "Policy to attach to the MWAA execution role (attached when mwaa_execution_role_name is set)."
  value       = aws_iam_policy.mwaa_pipeline.arn
}

output "airflow_variable_json" {
  description = "Value of the focus_pipeline_config Airflow Variable (or of the airflow/variables/focus_pipeline_config secret)."
  value       = jsonencode(local.airflow_variable)
}
