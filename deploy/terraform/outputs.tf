output "namespace" {
  description = "Namespace of the Dagster release."
  value       = kubernetes_namespace.dagster.metadata[0].name
}

output "release_revision" {
  description = "Helm revision of the release (null without it); `helm rollback dagster <revision>` returns to an earlier one."
  value       = var.install_dagster_release ? helm_release.dagster[0].metadata[0].revision : null
}

output "image" {
  description = "Code-location image the release runs."
  value       = "${var.image_repository}:${var.image_tag}"
}
