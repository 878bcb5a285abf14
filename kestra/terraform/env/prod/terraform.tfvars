kestra_url = "https://kestra.example.com"
