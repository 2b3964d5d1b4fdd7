"""TLS for the webhook port: certificate loading and reload on rotation."""
