variable "kestra_url" {
  description = "URL of the Kestra webserver, for example http://localhost:8080."
  type        = string
}

variable "kestra_api_token" {
  description = "API token of the Kestra server; null for a server without authentication."
  type        = string
  default     = null
  sensitive   = true
}
