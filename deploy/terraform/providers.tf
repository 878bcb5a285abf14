# Both providers talk to the cluster of the selected environment through one kubeconfig context;
# CI writes that kubeconfig from its secret store before `terraform init`.
provider "kubernetes" {
  config_path    = var.kubeconfig_path
  config_context = var.kube_context
}

provider "helm" {
  kubernetes {
    config_path    = var.kubeconfig_path
    config_context = var.kube_context
  }
}
