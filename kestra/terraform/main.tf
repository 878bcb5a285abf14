# Deploys kestra/flows/daily-blogpost.yml to a Kestra server, as the Kestra design does. One
# Terraform workspace per environment keeps the state of dev and prod apart:
#   terraform init && terraform workspace select -or-create dev
#   terraform plan -var-file=env/dev/terraform.tfvars -out=dev.plan && terraform apply dev.plan
terraform {
  required_version = ">= 1.5"
  required_providers {
    kestra = {
      source  = "kestra-io/kestra"
      version = ">= 0.4.0"
    }
  }
}

provider "kestra" {
  url       = var.kestra_url
  api_token = var.kestra_api_token
}

resource "kestra_flow" "daily_blogpost" {
  namespace = "demo.projects"
  flow_id   = "daily-blogpost"
  content   = file("${path.module}/../flows/daily-blogpost.yml")
}
