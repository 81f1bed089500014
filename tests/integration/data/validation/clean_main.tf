terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  type        = string
  description = "AWS region of the feature store."
  default     = "eu-west-1"
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "data_key" {
  #checkov:skip=CKV_AWS_109:A key policy applies only to its own key: "*" is that key
  #checkov:skip=CKV_AWS_111:A key policy applies only to its own key: "*" is that key
  #checkov:skip=CKV_AWS_356:A key policy applies only to its own key: "*" is that key
  statement {
    sid       = "AccountAdministersKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "data" {
  description             = "Encrypts the training data bucket."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.data_key.json
}

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_18:Access logs go to the organisation's central log bucket
  #checkov:skip=CKV_AWS_144:Single-region workload, replication is not required
  #checkov:skip=CKV2_AWS_62:No consumer of bucket event notifications
  bucket_prefix = "training-data-"
}

resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  bucket                  = aws_s3_bucket.data.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

output "data_bucket" {
  description = "Name of the training data bucket."
  value       = aws_s3_bucket.data.bucket
}
