"""Access control and quotas (see middleware.py), API keys and OIDC tokens."""
