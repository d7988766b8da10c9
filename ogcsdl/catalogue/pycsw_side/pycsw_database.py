"""Whether the database failed a request, without a round trip to ask it first (runs
INSIDE pycsw's interpreter; imports only SQLAlchemy and the standard library).

pycsw reflects its table for every request, which also fails when the database is down:
pycsw then answers "Could not initialize repository" (503 here). With the reflection
kept per process (``pycsw_wsgi``), a ``SELECT 1`` per request used to stand in for
that check: one more round trip on every search, as much as a third of the database
work of an indexed GetRecords. Instead every engine reports, through SQLAlchemy's
``handle_error`` event, when a statement could not reach the database (no connection,
or one the server dropped: a restart). pycsw turns such a failure inside a search into
"Invalid query syntax" (400), so ``pycsw_wsgi`` answers a troubled request once more,
this time with the check first (``checks_first``): a database that is back answers
(pooled connections of the old server are gone), one that is down gives pycsw's own
"Could not initialize repository", as before.
"""

import threading

from sqlalchemy import event

_request = threading.local()


def watch(engine) -> None:
    """Note in this request's state when a statement of ``engine`` cannot reach the
    database (once per engine)."""
    if getattr(engine, "_ogcsdl_watched", False):
        return

    @event.listens_for(engine, "handle_error")
    def _note(context) -> None:
        if context.is_disconnect or context.connection is None:  # dropped, or never made
            _request.troubled = True

    engine._ogcsdl_watched = True


def begin(check_first: bool) -> None:
    """A request (or its second answer) starts."""
    _request.troubled = False
    _request.check_first = check_first


def troubled() -> bool:
    """Did a statement of this request fail to reach the database?"""
    return getattr(_request, "troubled", False)


def checks_first() -> bool:
    """Must the repository check the database before answering (the second answer)?"""
    return getattr(_request, "check_first", True)
