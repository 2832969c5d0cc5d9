"""The JSON API under ``/api`` (bearer tokens) and its OpenAPI document."""
