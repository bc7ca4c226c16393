# --- SNS topic for findings ---------------------------------------------------------------------

resource "aws_sns_topic" "alerts" {
  name              = var.topic_name
  kms_master_key_id = aws_kms_key.pipeline.arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# --- SQS queue with an S3 event for every new export manifest ----------------------------------

resource "aws_sqs_queue" "manifests" {
  name                       = var.queue_name
  sqs_managed_sse_enabled    = true
  message_retention_seconds  = 1209600
  visibility_timeout_seconds = 300
  receive_wait_time_seconds  = 20
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.manifests_dead_letter.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue" "manifests_dead_letter" {
  name                      = "${var.queue_name}-dead-letter"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue_policy" "manifests" {
  queue_url = aws_sqs_queue.manifests.id
  policy    = data.aws_iam_policy_document.manifests_queue.json
}

data "aws_iam_policy_document" "manifests_queue" {
  # Only S3 events of the export bucket, from this account, may enter the queue.
  statement {
    sid       = "AllowExportBucketEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.manifests.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.exports.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_s3_bucket_notification" "manifests" {
  bucket = aws_s3_bucket.exports.id

  queue {
    id            = "focus-export-manifests"
    queue_arn     = aws_sqs_queue.manifests.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = local.manifests_prefix
    filter_suffix = "-Manifest.json"
  }

  depends_on = [aws_sqs_queue_policy.manifests]
}
