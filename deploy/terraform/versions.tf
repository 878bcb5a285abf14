terraform {
  # Cross-variable references in preconditions and the S3 backend options below need 1.9+.
  required_version = ">= 1.9.0, < 2.0.0"

  # Exact versions: a provider upgrade is a reviewed change, not a side effect of `init`.
  required_providers {
    helm = {
      source  = "hashicorp/helm"
      version = "= 2.17.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "= 2.36.0"
    }
  }

  # Remote state in S3 with a DynamoDB lock table, one state object per environment: the key
  # comes from env/<environment>.s3.tfbackend at `terraform init -backend-config=...`.
  # The state holds the Kubernetes Secret's values, so the bucket is encrypted with KMS and
  # readable only by the deploy role.
  backend "s3" {
    bucket         = "acme-terraform-state"
    region         = "eu-central-1"
    dynamodb_table = "acme-terraform-locks"
    encrypt        = true
    kms_key_id     = "alias/acme-terraform-state"
  }
}
