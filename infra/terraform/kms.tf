# One customer managed key for the pipeline bucket, Athena results, the SNS topic and the
# crawler's CloudWatch logs.
resource "aws_kms_key" "pipeline" {
  description             = "focus-billing-pipeline: pipeline bucket, Athena results, SNS alerts, crawler logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_key.json
}

resource "aws_kms_alias" "pipeline" {
  name          = "alias/focus-billing-pipeline"
  target_key_id = aws_kms_key.pipeline.key_id
}

data "aws_iam_policy_document" "kms_key" {
  #checkov:skip=CKV_AWS_109:A key policy must give the account root full control of its own key, otherwise the key becomes unmanageable.
  #checkov:skip=CKV_AWS_111:A key policy applies to its own key only, so the resource "*" cannot reach any other key.
  #checkov:skip=CKV_AWS_356:In a key policy the resource "*" means this key; no narrower resource exists.
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # Glue writes the crawler's logs encrypted with this key (security configuration).
  statement {
    sid       = "CloudWatchLogsForGlue"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws-glue/*"]
    }
  }
}
