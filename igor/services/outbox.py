"""The persisted outbox: notifications written in the same transaction as the change that causes them.

The lifecycle worker sends them (the email issue); until then they wait in the ``events`` table, so nothing a user
should be told about is lost even if no worker is running. Nothing is queued when email is off.
"""

from __future__ import annotations

from typing import Any

from igor.services.context import ServiceContext
from igor.timefmt import to_minutes


def queue_email(ctx: ServiceContext, template: str, to: list[str], *, cc: list[str] | None = None,
                **fields: Any) -> None:
    """Queue one email (call inside the writing transaction); a no-op when email is not configured."""
    if not ctx.config.email.enabled or not to:
        return
    ctx.db.Event(kind="email", key=template, due=to_minutes(ctx.now()),
                 payload={"template": template, "to": sorted(set(to)), "cc": sorted(set(cc or [])),
                          "fields": fields})
