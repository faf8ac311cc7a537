"""The demo app: a home page served from Redis through django_limpyd."""
