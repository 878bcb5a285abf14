"""Setting values that several modules share."""

from typing import Literal

# graphql: Buffer's current API with an API key; v1: the legacy REST API with an OAuth token.
BufferAPI = Literal["graphql", "v1"]
# ssl: implicit TLS (port 465); starttls: upgrade a plain connection (587); none: clear text.
SMTPSecurity = Literal["ssl", "starttls", "none"]
