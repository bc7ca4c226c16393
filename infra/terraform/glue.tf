resource "aws_glue_catalog_database" "focus" {
  name        = var.database
  description = "FOCUS 1.2 billing data: staged snapshots, the current snapshot per billing period, findings."
}

# --- Crawler over the staged snapshots ----------------------------------------------------------

resource "aws_glue_security_configuration" "crawler" {
  name = "${var.crawler_name}-security"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = aws_kms_key.pipeline.arn
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = aws_kms_key.pipeline.arn
    }

    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = aws_kms_key.pipeline.arn
    }
  }
}

resource "aws_glue_crawler" "snapshots" {
  name                   = var.crawler_name
  description            = "Catalogs the staged FOCUS snapshots as ${var.snapshots_table} (partitions billing_period, delivery)."
  database_name          = aws_glue_catalog_database.focus.name
  role                   = aws_iam_role.crawler.arn
  table_prefix           = local.crawler_table_prefix
  security_configuration = aws_glue_security_configuration.crawler.name
  schedule               = var.crawler_schedule == "" ? null : var.crawler_schedule

  s3_target {
    path = "s3://${var.bucket}/${var.snapshots_prefix}/"
    # Manifests, markers and temporary files are never data; only staged Parquet files are.
    exclusions = [
      "**/_*",
      "**/.*",
      "**/*.json",
      "**/*.tmp",
      "**/*.crc",
      "**/*.csv",
      "**/*.metadata",
      "**/*_$folder$",
    ]
  }

  schema_change_policy {
    update_behavior = "UPDATE_IN_DATABASE"
    delete_behavior = "DEPRECATE_IN_DATABASE"
  }

  recrawl_policy {
    recrawl_behavior = "CRAWL_EVERYTHING"
  }

  # Partitions inherit the table's schema, and compatible schemas of different deliveries stay
  # one table. Written literally because jsonencode would turn the Version 1.0 into 1.
  configuration = "{\"Version\":1.0,\"CrawlerOutput\":{\"Partitions\":{\"AddOrUpdateBehavior\":\"InheritFromTable\"}},\"Grouping\":{\"TableGroupingPolicy\":\"CombineCompatibleSchemas\"}}"

  lifecycle {
    precondition {
      condition     = endswith(var.snapshots_table, local.snapshots_leaf)
      error_message = "The snapshots_table must end with the last folder of snapshots_prefix (the crawler names the table after it)."
    }
  }

  depends_on = [aws_iam_role_policy.crawler]
}

# --- focus_current: one partition per billing period, set by the promotion task ----------------

resource "aws_glue_catalog_table" "current" {
  name          = var.current_table
  database_name = aws_glue_catalog_database.focus.name
  description   = "The latest valid FOCUS snapshot of each billing period; partitions point at staged snapshot folders."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL       = "TRUE"
    classification = "parquet"
  }

  partition_keys {
    name = "billing_period"
    type = "string"
  }

  # Outside the crawler's target on purpose: a crawler may adopt a table whose location it crawls.
  # Every partition has its own location, a staged snapshot folder.
  storage_descriptor {
    location      = "s3://${var.bucket}/focus/current/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = local.focus_columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# --- findings: the findings log, one JSON object per line ---------------------------------------

resource "aws_glue_catalog_table" "findings" {
  name          = var.findings_table
  database_name = aws_glue_catalog_database.focus.name
  description   = "Findings of every detection run; the memory that makes each fingerprint alert once per billing period."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL       = "TRUE"
    classification = "json"
  }

  partition_keys {
    name = "period"
    type = "string"
  }

  storage_descriptor {
    location      = "s3://${var.bucket}/${var.findings_prefix}/"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters = {
        "ignore.malformed.json" = "false"
      }
    }

    dynamic "columns" {
      for_each = local.findings_columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# --- Crawler role: read the snapshots, write the catalog, write its own logs --------------------

resource "aws_iam_role" "crawler" {
  name               = "${var.crawler_name}-crawler"
  assume_role_policy = data.aws_iam_policy_document.crawler_assume.json
}

data "aws_iam_policy_document" "crawler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role_policy" "crawler" {
  name   = "crawl-focus-snapshots"
  role   = aws_iam_role.crawler.id
  policy = data.aws_iam_policy_document.crawler.json
}

data "aws_iam_policy_document" "crawler" {
  statement {
    sid       = "ListSnapshots"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.pipeline.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.snapshots_prefix}/*", "${var.snapshots_prefix}/"]
    }
  }

  statement {
    sid       = "ReadSnapshots"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.pipeline.arn}/${var.snapshots_prefix}/*"]
  }

  statement {
    sid       = "DecryptSnapshots"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.pipeline.arn]
  }

  statement {
    sid = "WriteSnapshotsTable"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:CreateTable",
      "glue:UpdateTable",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:BatchGetPartition",
      "glue:CreatePartition",
      "glue:BatchCreatePartition",
      "glue:UpdatePartition",
      "glue:BatchUpdatePartition",
    ]
    resources = [
      local.glue_catalog_arn,
      local.glue_database_arn,
      "arn:${local.partition}:glue:${var.region}:${local.account_id}:table/${var.database}/${var.snapshots_table}",
    ]
  }

  statement {
    sid       = "WriteCrawlerLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws-glue/*"]
  }
}
