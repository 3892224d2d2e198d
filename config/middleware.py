"""A statement timeout for web requests on PostgreSQL, so that no page can hold a connection for minutes.

A request sets `statement_timeout` (DB_STATEMENT_TIMEOUT_MS) on its connection just before its first query
(a request without queries, such as the favicon redirect, never touches the database) and resets it to the
database's own setting afterwards, so the worker and the nightly jobs, which never pass through here,
keep theirs. A page whose query runs into the timeout answers 503 with an explanation (and a log line)
instead of hanging.
"""

import logging

from django.conf import settings
from django.contrib import admin
from django.db import DatabaseError, connection
from django.shortcuts import render
from django.utils.translation import gettext

logger = logging.getLogger(__name__)

# SQLSTATE query_canceled: a statement stopped by statement_timeout (or cancelled by an administrator).
QUERY_CANCELED = "57014"


def is_statement_timeout(exception):
    return isinstance(exception, DatabaseError) and getattr(exception.__cause__, "pgcode", None) == QUERY_CANCELED


class TimeoutOnFirstQuery:
    """An execute wrapper that sets the statement timeout on the connection before the request's first query."""

    def __init__(self, timeout_ms):
        self.timeout_ms = timeout_ms
        self.applied = False

    def __call__(self, execute, sql, params, many, context):
        if not self.applied:
            self.applied = True  # first, so that the SET below passes straight through this wrapper
            context["cursor"].execute("SET statement_timeout = %s", [self.timeout_ms])
        return execute(sql, params, many, context)


class StatementTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timeout_ms = settings.DB_STATEMENT_TIMEOUT_MS
        if not timeout_ms or connection.vendor != "postgresql":
            return self.get_response(request)
        timeout = TimeoutOnFirstQuery(timeout_ms)
        with connection.execute_wrapper(timeout):
            try:
                return self.get_response(request)
            finally:
                if timeout.applied:
                    self._reset()

    def _reset(self):
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET statement_timeout")
        except DatabaseError:
            # A connection that cannot reset must not carry the web timeout into anything else.
            logger.exception("Could not reset statement_timeout; closing the connection")
            if not connection.in_atomic_block:
                connection.close()

    def process_exception(self, request, exception):
        if not is_statement_timeout(exception):
            return None
        seconds = settings.DB_STATEMENT_TIMEOUT_MS / 1000
        logger.warning(
            "%s %s: a database query ran longer than the %g s statement timeout and was stopped",
            request.method, request.get_full_path(), seconds,
        )
        context = {
            "title": gettext("This page took too long"),
            "site_header": admin.site.site_header,
            "site_title": admin.site.site_title,
            # A number, so the template writes it as the page's language does ("0,2" in German); 30, not 30.0.
            "timeout_seconds": int(seconds) if seconds.is_integer() else seconds,
        }
        return render(request, "statement_timeout.html", context, status=503)
