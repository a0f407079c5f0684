"""Routes of this module are being written (scheduling-API issue); ``ROUTES`` lists them for the app."""

from __future__ import annotations

from igor.api.resources import Resource

ROUTES: tuple[tuple[str, type[Resource]], ...] = ()
