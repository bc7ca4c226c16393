# Policy for the MWAA execution role: exactly the actions the DAG tasks call, on the resources
# they touch. MWAA's own base permissions (its dags bucket, CloudWatch Logs, the Celery queue,
# airflow:PublishMetrics) belong to the environment and are not part of this policy.

resource "aws_iam_policy" "mwaa_pipeline" {
  name        = "focus-billing-pipeline-mwaa"
  description = "Actions of the focus_delivery and focus_cost_detections DAGs."
  policy      = data.aws_iam_policy_document.mwaa_pipeline.json
}

resource "aws_iam_role_policy_attachment" "mwaa_pipeline" {
  count      = var.mwaa_execution_role_name == "" ? 0 : 1
  role       = var.mwaa_execution_role_name
  policy_arn = aws_iam_policy.mwaa_pipeline.arn
}

locals {
  pipeline_bucket_arn = "arn:${local.partition}:s3:::${var.bucket}"
  export_bucket_arn   = "arn:${local.partition}:s3:::${var.export_bucket}"
  workgroup_arn       = "arn:${local.partition}:athena:${var.region}:${local.account_id}:workgroup/${var.workgroup}"
  crawler_arn         = "arn:${local.partition}:glue:${var.region}:${local.account_id}:crawler/${var.crawler_name}"
  secret_arns = [
    for prefix in var.airflow_secrets_prefixes :
    "arn:${local.partition}:secretsmanager:${var.region}:${local.account_id}:secret:${prefix}/*"
  ]
  member_role_arns = distinct(values(var.member_account_roles))
}

data "aws_iam_policy_document" "mwaa_pipeline" {
  # sense_manifest (S3KeySensor), stage_delivery: find the manifests and data files of the export.
  statement {
    sid       = "ListExport"
    actions   = ["s3:ListBucket"]
    resources = [local.export_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.export_root}/*", "${local.export_root}/"]
    }
  }

  # sense_manifest reads the manifest; stage_delivery copies the data files it lists.
  statement {
    sid       = "ReadExport"
    actions   = ["s3:GetObject"]
    resources = ["${local.export_bucket_arn}/${local.export_root}/*"]
  }

  # stage_delivery, validation, detections (Athena reads with the caller's credentials), record
  # findings, delivery log.
  statement {
    sid       = "ListPipelineBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.pipeline_bucket_arn]
  }

  statement {
    sid     = "ReadWritePipelineObjects"
    actions = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = [
      "${local.pipeline_bucket_arn}/${var.snapshots_prefix}/*",
      "${local.pipeline_bucket_arn}/${var.findings_prefix}/*",
      "${local.pipeline_bucket_arn}/${var.deliveries_prefix}/*",
      "${local.pipeline_bucket_arn}/${var.validation_prefix}/*",
      "${local.pipeline_bucket_arn}/${local.athena_results_prefix}*",
    ]
  }

  # Objects of the pipeline bucket, Athena results and the SNS topic use the pipeline key.
  statement {
    sid       = "UsePipelineKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.pipeline.arn]
  }

  # crawl_snapshots (GlueCrawlerRunOperator): start the crawler, or wait for a running crawl.
  statement {
    sid       = "RunCrawler"
    actions   = ["glue:StartCrawler", "glue:GetCrawler"]
    resources = [local.crawler_arn]
  }

  # The operator polls crawl metrics; GetCrawlerMetrics has no resource-level permissions.
  statement {
    sid       = "ReadCrawlerMetrics"
    actions   = ["glue:GetCrawlerMetrics"]
    resources = ["*"]
  }

  # validate_snapshot, detections, findings queries: Athena resolves tables in the catalog.
  # promote_snapshot: one CreatePartition, UpdatePartition or BatchCreatePartition on focus_current.
  # record_findings: CreatePartition on findings.
  statement {
    sid = "UseCatalog"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetTables",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:BatchGetPartition",
      "glue:CreatePartition",
      "glue:UpdatePartition",
      "glue:BatchCreatePartition",
    ]
    resources = concat([local.glue_catalog_arn, local.glue_database_arn], local.glue_table_arns)
  }

  # validate_snapshot (PyAthena), run_*_detections (AthenaOperator), normalise (Athena UNLOAD).
  statement {
    sid = "QueryAthena"
    actions = [
      "athena:StartQueryExecution",
      "athena:GetQueryExecution",
      "athena:GetQueryResults",
      "athena:StopQueryExecution",
      "athena:GetWorkGroup",
    ]
    resources = [local.workgroup_arn]
  }

  # notify_findings (SnsPublishOperator).
  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }

  # Event-driven runs read the manifest events from the queue.
  statement {
    sid       = "ReadManifestEvents"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = [aws_sqs_queue.manifests.arn]
  }

  # check_sagemaker_invocations (focus_cost_detections): CloudWatch metric reads support neither
  # resource-level permissions nor the cloudwatch:namespace condition key, so "*" is the only resource.
  statement {
    sid       = "ReadSageMakerMetrics"
    actions   = ["cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"]
    resources = ["*"]
  }

  # Airflow secrets backend: connections and variables stored in Secrets Manager.
  statement {
    sid       = "ReadAirflowSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }

  # check_sagemaker_invocations in member accounts: only the roles listed in member_account_roles.
  dynamic "statement" {
    for_each = length(local.member_role_arns) > 0 ? [1] : []
    content {
      sid       = "AssumeMemberAccountRoles"
      actions   = ["sts:AssumeRole"]
      resources = local.member_role_arns
    }
  }
}
