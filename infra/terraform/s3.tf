# Two buckets: the export bucket that AWS Data Exports writes to (raw deliveries, kept forever by
# default) and the pipeline bucket (snapshots, findings, delivery log, validation, Athena results).

# --- Export bucket ------------------------------------------------------------------------------

resource "aws_s3_bucket" "exports" {
  #checkov:skip=CKV_AWS_144:Raw deliveries can be re-exported by AWS Data Exports; cross-region replication is left to the organisation's backup policy.
  #checkov:skip=CKV_AWS_145:AWS Data Exports delivers to buckets with SSE-S3; this bucket uses SSE-S3 (AES256) so that the billing service needs no grant on a customer managed key.
  #checkov:skip=CKV_AWS_18:Server access logging is enabled by aws_s3_bucket_logging.exports when var.access_log_bucket is set; this module owns no log bucket.
  bucket = var.export_bucket
}

resource "aws_s3_bucket_public_access_block" "exports" {
  bucket                  = aws_s3_bucket.exports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "exports" {
  bucket = aws_s3_bucket.exports.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id

  # OVERWRITE_REPORT mode replaces the files of a period several times a day; the replaced
  # versions are only kept for a while. Current objects never expire unless
  # var.raw_delivery_expiration_days is set.
  rule {
    id     = "raw-deliveries"
    status = "Enabled"

    filter {
      prefix = "${local.export_root}/"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    dynamic "expiration" {
      for_each = var.raw_delivery_expiration_days > 0 ? [var.raw_delivery_expiration_days] : []
      content {
        days = expiration.value
      }
    }
  }

  rule {
    id     = "incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_logging" "exports" {
  count         = var.access_log_bucket == "" ? 0 : 1
  bucket        = aws_s3_bucket.exports.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/${var.export_bucket}/"
}

resource "aws_s3_bucket_policy" "exports" {
  bucket = aws_s3_bucket.exports.id
  policy = data.aws_iam_policy_document.exports_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.exports]
}

data "aws_iam_policy_document" "exports_bucket" {
  # AWS Data Exports (and the CUR service behind it) writes the export as a service principal.
  statement {
    sid       = "AllowDataExportsWrite"
    actions   = ["s3:PutObject", "s3:GetBucketPolicy"]
    resources = [aws_s3_bucket.exports.arn, "${aws_s3_bucket.exports.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["bcm-data-exports.amazonaws.com", "billingreports.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "aws:SourceArn"
      values = [
        "arn:${local.partition}:cur:us-east-1:${local.account_id}:definition/*",
        "arn:${local.partition}:bcm-data-exports:us-east-1:${local.account_id}:export/*",
      ]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.exports.arn, "${aws_s3_bucket.exports.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# --- Pipeline bucket ----------------------------------------------------------------------------

resource "aws_s3_bucket" "pipeline" {
  #checkov:skip=CKV_AWS_144:Snapshots are copies of the raw deliveries in the export bucket and can be staged again; cross-region replication is left to the organisation's backup policy.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of the pipeline bucket; the DAGs sense the export bucket.
  #checkov:skip=CKV_AWS_18:Server access logging is enabled by aws_s3_bucket_logging.pipeline when var.access_log_bucket is set; this module owns no log bucket.
  bucket = var.bucket
}

resource "aws_s3_bucket_public_access_block" "pipeline" {
  bucket                  = aws_s3_bucket.pipeline.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "pipeline" {
  bucket = aws_s3_bucket.pipeline.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "pipeline" {
  bucket = aws_s3_bucket.pipeline.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "pipeline" {
  bucket = aws_s3_bucket.pipeline.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.pipeline.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "pipeline" {
  bucket = aws_s3_bucket.pipeline.id

  # focus_current points at snapshot folders of every billing period, so snapshots move to a
  # cheaper storage class but never expire.
  rule {
    id     = "staged-snapshots"
    status = "Enabled"

    filter {
      prefix = "${var.snapshots_prefix}/"
    }

    transition {
      days          = var.snapshot_transition_days
      storage_class = "INTELLIGENT_TIERING"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "athena-results"
    status = "Enabled"

    filter {
      prefix = local.athena_results_prefix
    }

    expiration {
      days = var.athena_results_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "other-objects"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_logging" "pipeline" {
  count         = var.access_log_bucket == "" ? 0 : 1
  bucket        = aws_s3_bucket.pipeline.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/${var.bucket}/"
}

resource "aws_s3_bucket_policy" "pipeline" {
  bucket = aws_s3_bucket.pipeline.id
  policy = data.aws_iam_policy_document.pipeline_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.pipeline]
}

data "aws_iam_policy_document" "pipeline_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.pipeline.arn, "${aws_s3_bucket.pipeline.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
