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
  # wait_for_delivery and select_delivery list the manifests of the billing periods in scope.
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

  # wait_for_delivery and select_delivery read the manifests and check (HeadObject) that their
  # data files exist. stage_delivery reads the Parquet footers and copies the data files.
  statement {
    sid       = "ReadExport"
    actions   = ["s3:GetObject"]
    resources = ["${local.export_bucket_arn}/${local.export_root}/*"]
  }

  # Listing: the delivery log (wait_for_delivery, select_delivery), the snapshot and raw folders
  # (stage_delivery), the period_account copy (promote_snapshot) and the alert markers
  # (prepare_notifications). Athena lists the folders it reads and writes with the caller's
  # credentials and checks the region of its result bucket.
  statement {
    sid       = "ListPipelineBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.pipeline_bucket_arn]
  }

  # stage_delivery copies the data files here, or Athena's UNLOAD writes the normalised files.
  # validate_snapshot reads the footers, and Athena reads the files for validation, detections
  # and the period_account UNLOAD. Snapshot folders are immutable, so nothing deletes here.
  statement {
    sid       = "ReadWriteSnapshots"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${local.pipeline_bucket_arn}/${var.snapshots_prefix}/*"]
  }

  # stage_delivery copies a delivery that needs normalisation here, and Athena reads it through
  # the temporary table. validate_snapshot reads the raw footers for the column diff.
  statement {
    sid       = "ReadWriteRawDeliveries"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.pipeline_bucket_arn}/${local.raw_prefix}/*"]
  }

  # promote_snapshot with current_layout "period_account": Athena's UNLOAD writes the copy, the
  # task writes its completion marker, and it deletes what an interrupted UNLOAD left behind.
  statement {
    sid = "WriteByAccountCopies"
    actions = [
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${local.pipeline_bucket_arn}/${local.by_account_root}/*"]
  }

  # Delivery log: wait_for_delivery and select_delivery read it. stage_delivery,
  # validate_snapshot and promote_snapshot read and rewrite a record, and publish_alerts writes the
  # status of a quarantined or held-back delivery once its alert is out.
  statement {
    sid       = "ReadWriteDeliveryLog"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.pipeline_bucket_arn}/${var.deliveries_prefix}/*"]
  }

  # record_findings appends to the findings log, and publish_alerts writes one marker per alerted
  # fingerprint after its message is out. S3Hook uploads through boto3's managed transfer, which switches to a multipart
  # upload above 8 MB and aborts it on failure.
  statement {
    sid     = "WriteFindings"
    actions = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [
      "${local.pipeline_bucket_arn}/${var.findings_prefix}/*",
      "${local.pipeline_bucket_arn}/${var.findings_prefix}_alerted/*",
    ]
  }

  # validate_snapshot stores its report.
  statement {
    sid       = "WriteValidationReports"
    actions   = ["s3:PutObject"]
    resources = ["${local.pipeline_bucket_arn}/${var.validation_prefix}/*"]
  }

  # Athena writes every query's results here with the caller's credentials, and GetQueryResults
  # (validate_snapshot, record_findings) reads them back.
  statement {
    sid       = "UseAthenaResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${local.pipeline_bucket_arn}/${local.athena_results_prefix}*"]
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

  # crawl_snapshots polls crawl metrics; GetCrawlerMetrics has no resource-level permissions.
  statement {
    sid       = "ReadCrawlerMetrics"
    actions   = ["glue:GetCrawlerMetrics"]
    resources = ["*"]
  }

  # Athena looks up the database of every query: stage_delivery (normalisation),
  # validate_snapshot, promote_snapshot (period_account UNLOAD) and run_*_detections.
  statement {
    sid       = "ReadDatabase"
    actions   = ["glue:GetDatabase"]
    resources = [local.glue_catalog_arn, local.glue_database_arn]
  }

  # Athena reads focus_snapshots (validate_snapshot, the period_account UNLOAD) and focus_current
  # (run_*_detections). plan_*_detections and promote_snapshot call GetTable and GetPartitions
  # on focus_current themselves.
  statement {
    sid     = "QueryFocusTables"
    actions = ["glue:GetTable", "glue:GetPartitions", "glue:BatchGetPartition"]
    resources = [
      local.glue_catalog_arn,
      local.glue_database_arn,
      "${local.glue_table_arn_prefix}/${var.snapshots_table}",
      "${local.glue_table_arn_prefix}/${var.current_table}",
    ]
  }

  # validate_snapshot reads the period's current partition; promote_snapshot creates it on the
  # first promotion and updates it after.
  statement {
    sid     = "PromoteCurrentPartition"
    actions = ["glue:GetPartition", "glue:CreatePartition", "glue:UpdatePartition"]
    resources = [
      local.glue_catalog_arn,
      local.glue_database_arn,
      "${local.glue_table_arn_prefix}/${var.current_table}",
    ]
  }

  # record_findings registers the period partition of the findings table.
  statement {
    sid     = "RegisterFindingsPartitions"
    actions = ["glue:GetTable", "glue:CreatePartition"]
    resources = [
      local.glue_catalog_arn,
      local.glue_database_arn,
      "${local.glue_table_arn_prefix}/${var.findings_table}",
    ]
  }

  # promote_snapshot with current_layout "period_account": create the by-account table on first
  # use, then create the account partitions new to the period and swap all of them in one call.
  statement {
    sid = "PromoteByAccountPartitions"
    actions = [
      "glue:GetTable",
      "glue:CreateTable",
      "glue:GetPartitions",
      "glue:BatchCreatePartition",
      "glue:BatchUpdatePartition",
    ]
    resources = [
      local.glue_catalog_arn,
      local.glue_database_arn,
      "${local.glue_table_arn_prefix}/${var.current_by_account_table}",
    ]
  }

  # stage_delivery (normalisation): Athena's CREATE EXTERNAL TABLE creates the temporary table
  # over the raw files, the UNLOAD reads it, and the task deletes it in Glue afterwards.
  statement {
    sid     = "NormaliseTemporaryTables"
    actions = ["glue:GetTable", "glue:CreateTable", "glue:DeleteTable"]
    resources = [
      local.glue_catalog_arn,
      local.glue_database_arn,
      "${local.glue_table_arn_prefix}/${local.normalise_table_pattern}",
    ]
  }

  # GetWorkGroup: select_delivery and plan_*_detections check for a result location. Queries:
  # stage_delivery (normalisation), validate_snapshot (PyAthena), promote_snapshot
  # (period_account UNLOAD) and run_*_detections (AthenaOperator). record_findings reads results.
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

  # publish_alerts (PublishAlertOperator), and the failure alert that every task except
  # finish_delivery sends from its on_failure_callback.
  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }

  # Event-driven runs: the triggerer's watcher of the focus_manifest_events Asset reads and
  # deletes the manifest events.
  statement {
    sid       = "ReadManifestEvents"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = [aws_sqs_queue.manifests.arn]
  }

  # record_findings of focus_cost_detections checks the Invocations of idle SageMaker endpoint
  # candidates. CloudWatch metric reads support neither resource-level permissions nor the
  # cloudwatch:namespace condition key, so "*" is the only resource.
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

  # The same check in member accounts: only the roles listed in member_account_roles. Its
  # sts:GetCallerIdentity call needs no permission.
  dynamic "statement" {
    for_each = length(local.member_role_arns) > 0 ? [1] : []
    content {
      sid       = "AssumeMemberAccountRoles"
      actions   = ["sts:AssumeRole"]
      resources = local.member_role_arns
    }
  }
}
