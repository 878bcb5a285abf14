# The Dagster deployment of blog-pipeline in one environment: the namespace, the Secrets and the
# ConfigMap that the pods read, and the release of the official dagster/dagster Helm chart with
# deploy/helm/values.yaml and the environment's overlay. Applying it is `helm upgrade --install`
# with the image tag that CI built.

locals {
  helm_dir = "${path.module}/../helm"

  # Pipeline keys by the environment variable each resource reads (blog_pipeline/environment.py).
  pipeline_secrets = {
    OPENAI_API_KEY               = var.openai_api_key
    BUFFER_TOKEN                 = var.buffer_token
    (var.buffer_channel_env_var) = var.buffer_channel_id
    SMTP_USER                    = var.smtp_user
    SMTP_PASS                    = var.smtp_password
  }

  # Settings that are not secret, by the variable blog_pipeline/environment.py reads.
  pipeline_settings = {
    BLOG_PIPELINE_ENV = var.environment
    # Every run is its own pod, so step outputs must live in the object store.
    BLOG_PIPELINE_IO_MANAGER = "s3"
    BLOG_PIPELINE_IO_BUCKET  = var.io_bucket
    SMTP_HOST                = var.smtp_host
    SMTP_PORT                = tostring(var.smtp_port)
    SMTP_SECURITY            = var.smtp_security
    ALERT_EMAIL_FROM         = var.alert_email_from
    ALERT_EMAIL_TO           = var.alert_email_to
    DAGSTER_UI_URL           = var.dagster_ui_url
    AWS_REGION               = var.aws_region
  }

  pipeline_config = merge(
    local.pipeline_settings,
    var.aws_secrets_manager_tag == "" ? {} : {
      BLOG_PIPELINE_AWS_SECRETS_TAG = var.aws_secrets_manager_tag
    },
  )
}

resource "kubernetes_namespace" "dagster" {
  metadata {
    name = var.namespace
    labels = {
      "app.kubernetes.io/part-of" = "blog-pipeline"
      environment                 = var.environment
    }
  }
}

resource "kubernetes_config_map" "pipeline" {
  metadata {
    name      = "blog-pipeline-config"
    namespace = kubernetes_namespace.dagster.metadata[0].name
  }
  data = local.pipeline_config
}

resource "kubernetes_secret" "pipeline" {
  metadata {
    name      = "blog-pipeline-secrets"
    namespace = kubernetes_namespace.dagster.metadata[0].name
  }
  type = "Opaque"
  # Empty keys are left out, so the entry point can fill them from Secrets Manager.
  data = { for name, value in local.pipeline_secrets : name => value if value != "" }

  lifecycle {
    precondition {
      condition     = var.aws_secrets_manager_tag != "" || alltrue([for value in values(local.pipeline_secrets) : value != ""])
      error_message = "Set every pipeline key (TF_VAR_openai_api_key, TF_VAR_buffer_token, TF_VAR_buffer_channel_id, TF_VAR_smtp_user, TF_VAR_smtp_password) or aws_secrets_manager_tag."
    }
  }
}

resource "kubernetes_secret" "postgresql" {
  metadata {
    # global.postgresqlSecretName in deploy/helm/values.yaml.
    name      = "blog-pipeline-postgresql"
    namespace = kubernetes_namespace.dagster.metadata[0].name
  }
  type = "Opaque"
  data = {
    postgresql-password = var.postgres_password
  }
}

resource "helm_release" "dagster" {
  # Dagster+ runs the webserver and daemon itself; its agent only needs the Secret and ConfigMap.
  count = var.install_dagster_release ? 1 : 0

  name       = "dagster"
  namespace  = kubernetes_namespace.dagster.metadata[0].name
  repository = "https://dagster-io.github.io/helm"
  chart      = "dagster"
  version    = var.chart_version

  values = [
    file("${local.helm_dir}/values.yaml"),
    file("${local.helm_dir}/values-${var.environment}.yaml"),
  ]

  set {
    name  = "dagster-user-deployments.deployments[0].image.repository"
    value = var.image_repository
  }

  set {
    name  = "dagster-user-deployments.deployments[0].image.tag"
    value = var.image_tag
  }

  # A changed ConfigMap restarts the code server: the chart rolls the Deployment when any field
  # of the deployment entry, annotations included, changes.
  set {
    name  = "dagster-user-deployments.deployments[0].annotations.blog-pipeline/config-sha256"
    value = sha256(jsonencode(local.pipeline_config))
  }

  # Roll back to the previous revision by itself when the upgrade does not become ready.
  atomic          = true
  cleanup_on_fail = true
  wait            = true
  timeout         = 600
  max_history     = 10

  depends_on = [
    kubernetes_config_map.pipeline,
    kubernetes_secret.pipeline,
    kubernetes_secret.postgresql,
  ]
}
