# prod: the company LinkedIn channel; only pushes to main deploy here. Secret values are not in
# this file: CI passes them as TF_VAR_* from its secret store.
environment            = "prod"
kube_context           = "acme-prod"
namespace              = "blog-pipeline"
image_repository       = "ghcr.io/acme/blog-pipeline"
smtp_host              = "smtp.example.com"
alert_email_from       = "blog-pipeline@example.com"
alert_email_to         = "ops@example.com,team@example.com"
dagster_ui_url         = "https://dagster.example.com"
io_bucket              = "acme-blog-pipeline-prod"
buffer_channel_env_var = "BUFFER_CHANNEL_ID"
