"""The HTTP edge: app factory, webhooks, API and dashboard."""
