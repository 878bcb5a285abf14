kestra_url = "http://localhost:8080"
