variable "environment" {
  description = "Deployment environment: dev or prod. Selects deploy/helm/values-<environment>.yaml."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "The environment must be dev or prod."
  }
}

variable "kubeconfig_path" {
  description = "Path of the kubeconfig file with the context of the target cluster."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "kubeconfig context of the target cluster."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the Dagster release, its Secrets and ConfigMap."
  type        = string
}

variable "install_dagster_release" {
  description = "Install the dagster/dagster Helm release (open-source Dagster on Kubernetes). False for Dagster+ Hybrid, where the agent runs the code location and only the Secret and ConfigMap are needed."
  type        = bool
  default     = true
}

variable "chart_version" {
  description = "Version of the dagster/dagster Helm chart; equal to the dagster release in pyproject.toml."
  type        = string
  default     = "1.13.27"
}

variable "image_repository" {
  description = "Registry path of the code-location image built from deploy/Dockerfile."
  type        = string
}

variable "image_tag" {
  description = "Tag of the code-location image to deploy: the commit SHA that CI built."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{7,40}$", var.image_tag))
    error_message = "The image_tag must be a commit SHA (7 to 40 hex digits), never a moving tag such as latest."
  }
}

# Settings that are not secret; they end up in the ConfigMap blog-pipeline-config and are read by
# blog_pipeline/environment.py when the code location loads.

variable "smtp_host" {
  description = "SMTP server for failure alerts (SMTP_HOST)."
  type        = string
}

variable "smtp_port" {
  description = "SMTP server port (SMTP_PORT)."
  type        = number
  default     = 465
}

variable "smtp_security" {
  description = "ssl (implicit TLS), starttls or none (SMTP_SECURITY)."
  type        = string
  default     = "ssl"

  validation {
    condition     = contains(["ssl", "starttls", "none"], var.smtp_security)
    error_message = "The smtp_security must be ssl, starttls or none."
  }
}

variable "alert_email_from" {
  description = "From address of alert e-mails (ALERT_EMAIL_FROM)."
  type        = string
}

variable "alert_email_to" {
  description = "Comma-separated recipients of alert e-mails (ALERT_EMAIL_TO, or ALERT_EMAIL_TO_DEV in dev)."
  type        = string
}

variable "dagster_ui_url" {
  description = "Base URL of the Dagster UI, for run links in alert e-mails (DAGSTER_UI_URL)."
  type        = string
}

variable "io_bucket" {
  description = "S3 bucket of the S3 pickle IO manager that stores step outputs (BLOG_PIPELINE_IO_BUCKET)."
  type        = string
}

variable "aws_region" {
  description = "AWS region of the S3 buckets and of Secrets Manager (AWS_REGION)."
  type        = string
  default     = "eu-central-1"
}

variable "aws_secrets_manager_tag" {
  description = "Tag key of AWS Secrets Manager secrets that the image's entry point loads into the environment. Empty: the pipeline keys come only from the Kubernetes Secret."
  type        = string
  default     = ""
}

# Secret values: never in a tfvars file. CI passes them as TF_VAR_<name> from its secret store.
# With aws_secrets_manager_tag set, the pipeline keys may stay empty and come from Secrets
# Manager instead; the PostgreSQL password is always needed here, because the Dagster webserver
# and daemon read it from a Kubernetes Secret.

variable "openai_api_key" {
  description = "OpenAI API key (OPENAI_API_KEY)."
  type        = string
  sensitive   = true
  default     = ""
}

variable "buffer_token" {
  description = "Buffer API key or v1 token (BUFFER_TOKEN)."
  type        = string
  sensitive   = true
  default     = ""
}

variable "buffer_channel_id" {
  description = "Buffer channel id to post to; stored under the variable name that buffer_channel_env_var gives."
  type        = string
  sensitive   = true
  default     = ""
}

variable "smtp_user" {
  description = "SMTP user name (SMTP_USER)."
  type        = string
  sensitive   = true
  default     = ""
}

variable "smtp_password" {
  description = "SMTP password (SMTP_PASS)."
  type        = string
  sensitive   = true
  default     = ""
}

variable "postgres_password" {
  description = "Password of the Dagster instance database user."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.postgres_password) >= 16
    error_message = "The postgres_password must have at least 16 characters."
  }
}

variable "buffer_channel_env_var" {
  description = "Environment variable that carries the Buffer channel id: BUFFER_CHANNEL_ID in prod, BUFFER_CHANNEL_ID_DEV in dev, as blog_pipeline/environment.py reads it."
  type        = string
}
