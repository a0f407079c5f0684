"""The REST API (Falcon): ``create_app(services)`` and the OpenAPI document of the same routes."""

from igor.api.app import ROUTES, create_app, openapi_document

__all__ = ["ROUTES", "create_app", "openapi_document"]
