# dev: a test Buffer channel and the team inbox; every push to a branch other than main deploys
# here. Secret values are not in this file: CI passes them as TF_VAR_* from its secret store.
environment            = "dev"
kube_context           = "acme-dev"
namespace              = "blog-pipeline-dev"
image_repository       = "ghcr.io/acme/blog-pipeline"
smtp_host              = "smtp.example.com"
alert_email_from       = "blog-pipeline-dev@example.com"
alert_email_to         = "team@example.com"
dagster_ui_url         = "https://dagster.dev.example.com"
io_bucket              = "acme-blog-pipeline-dev"
buffer_channel_env_var = "BUFFER_CHANNEL_ID_DEV"
