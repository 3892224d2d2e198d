"""On PostgreSQL a web request's query is stopped after DB_STATEMENT_TIMEOUT_MS and the page says why (issue 17).

The worker and the nightly jobs never pass through the middleware: their queries keep the database's
own timeout, even on a connection a request used before.
"""

import logging
import time

import pytest
from django.contrib import admin
from django.db import connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

# transaction=True: a statement stopped by the timeout aborts its transaction, which must be the request's own.
# serialized_rollback: emptying the database afterwards would recreate the content types under new ids, and the
# next test that restores the seeded rows would collide with them.
pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sleeping_view(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [float(request.GET.get("seconds", "5"))])
    return HttpResponse("done")


# The product's admin (the error page links to it) and a page whose query takes as long as it is told.
def no_query_view(request):
    return HttpResponse("no query")


# i18n/: the admin header's language switch links to set_language on every page, the error page included.
urlpatterns = [
    path("slow/", sleeping_view), path("plain/", no_query_view), path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]


def statement_timeout():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@pytest.fixture
def slow_site(settings):
    settings.ROOT_URLCONF = __name__
    settings.DB_STATEMENT_TIMEOUT_MS = 200


def test_a_query_longer_than_the_timeout_gets_a_503_page_saying_why(client, slow_site, caplog):
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="config.middleware"):
        response = client.get("/slow/?seconds=30")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    page = response.content.decode()
    assert "The database needed longer than 0.2 seconds for this page, so the query was stopped" in page
    assert "Nothing was changed." in page
    assert "GET /slow/?seconds=30: a database query ran longer than the 0.2 s statement timeout" in caplog.text


def test_a_query_within_the_timeout_answers_normally(client, slow_site):
    response = client.get("/slow/?seconds=0.05")
    assert (response.status_code, response.content) == (200, b"done")


def test_after_a_request_the_connection_has_the_databases_own_timeout_again(client, slow_site):
    before = statement_timeout()
    client.get("/slow/?seconds=30")
    client.get("/slow/?seconds=0.01")
    assert statement_timeout() == before
    # What the worker runs next on this connection is not cut off at 0.2 s.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.4)")


def test_no_timeout_is_set_when_it_is_configured_off(client, slow_site, settings):
    settings.DB_STATEMENT_TIMEOUT_MS = 0
    response = client.get("/slow/?seconds=0.4")
    assert response.status_code == 200


def test_a_request_without_queries_sends_nothing_to_the_database(client, slow_site):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/plain/")
    assert response.content == b"no query"
    assert [query["sql"] for query in queries] == []
