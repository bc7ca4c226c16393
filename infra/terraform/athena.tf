resource "aws_athena_workgroup" "pipeline" {
  name          = var.workgroup
  description   = "Validation, promotion checks and detections of the FOCUS pipeline."
  state         = "ENABLED"
  force_destroy = false

  configuration {
    # The workgroup's result location and encryption override whatever a client sends, so the
    # DAGs read results from the location Athena reports for each query.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = local.athena_output

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.pipeline.arn
      }
    }
  }
}
