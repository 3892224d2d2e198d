"""The e-mail admin stays fast with a million e-mails: bounded queries, cheap counts, indexed search.

Timings are measured by `bin/bench pages`; these tests pin down the behaviour that makes them possible
(no per-row queries, no count over the whole table, no `id IN (subquery)` per filter option, searches
an index can answer) on both databases.
"""

import datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from extraction import admin as email_admin
from extraction import admin_list
from extraction.models import EmailAttachment, ExtractionResult, IncomingEmail

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status
LIST = reverse("admin:extraction_incomingemail_changelist")
START = timezone.make_aware(datetime.datetime(2026, 11, 2, 9, 0))


def make_emails(count, *, prefix="m", **fields):
    """`count` e-mails, one minute apart (the last is the newest), with a result and an attachment each."""
    emails = IncomingEmail.objects.bulk_create(
        IncomingEmail(**{
            "message_id": f"<{prefix}{n}@example.de>", "sender": f"Inkasso {n} <a@example.de>",
            "subject": f"Forderung {n}", "created_at": START + datetime.timedelta(minutes=n),
            "status": Status.EXTRACTED, "intent": "debt_statement", "lowest_confidence": 0.95, **fields,
        })
        for n in range(count)
    )
    attachments = EmailAttachment.objects.bulk_create(
        EmailAttachment(email=e, original_name="a.pdf", content_type="application/pdf", size=10, sha256="0" * 64)
        for e in emails
    )
    ExtractionResult.objects.bulk_create(
        ExtractionResult(email=email, source=ExtractionResult.Source.PDF, attachment=attachment)
        for email, attachment in zip(emails, attachments, strict=True)
    )
    return emails


def shown(response):
    return list(response.context["cl"].result_list)


def captured(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response, [q["sql"] for q in queries.captured_queries]


# Queries per page -----------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?status__exact=extracted", "?intent__exact=debt_statement",
                                   "?confidence_band=high", "?q=Forderung", "?p=2"])
def test_the_email_list_runs_the_same_few_queries_for_a_full_page(admin_client, query):
    make_emails(120)
    # session, user, the count, the table's size (for "Show counts"), the page's ids, the page's rows;
    # on PostgreSQL also the planner's estimate, and setting and resetting the statement timeout.
    _, queries = captured(admin_client, LIST + query)
    assert len(queries) <= (9 if connection.vendor == "postgresql" else 6), queries


def test_the_admin_index_runs_the_same_queries_with_many_failed_emails(admin_client, django_assert_max_num_queries):
    make_emails(2, status=Status.FAILED, error="classify: overloaded")
    _, few = captured(admin_client, reverse("admin:index"))
    make_emails(60, status=Status.FAILED, error="classify: overloaded", prefix="more")
    with django_assert_max_num_queries(len(few)):
        admin_client.get(reverse("admin:index"))


def test_the_list_never_loads_a_body(admin_client):
    make_emails(3, body_text="x" * 1000)
    _, queries = captured(admin_client, LIST)
    assert not [sql for sql in queries if "body_text" in sql]


# Ordering, pages and counts ------------------------------------------------------------------------


def test_a_deep_page_holds_the_rows_of_the_newest_first_order(admin_client):
    per_page = email_admin.IncomingEmailAdmin.list_per_page
    emails = make_emails(2 * per_page + 25)
    IncomingEmail.objects.filter(pk__in=[e.pk for e in emails[:10]]).update(created_at=START)  # ties: by id
    expected = sorted(emails, key=lambda e: (e.pk not in {x.pk for x in emails[:10]}, e.created_at, e.pk))
    expected = list(reversed(expected))
    assert shown(admin_client.get(LIST + "?p=3")) == expected[2 * per_page:]
    assert shown(admin_client.get(LIST + "?p=2")) == expected[per_page:2 * per_page]
    oldest_first = shown(admin_client.get(LIST + "?o=1"))
    all_arrivals = sorted(e.created_at for e in IncomingEmail.objects.all())
    assert [e.created_at for e in oldest_first] == all_arrivals[:per_page]


def test_a_small_result_is_counted_exactly(admin_client, monkeypatch):
    monkeypatch.setattr(admin_list, "EXACT_COUNT_UP_TO", 5)
    make_emails(4)
    response = admin_client.get(LIST)
    assert response.context["cl"].result_count == 4
    assert "about" not in response.content.decode().split('class="paginator"')[1]


def test_a_big_list_shows_the_estimate_on_postgresql_and_the_count_on_sqlite(admin_client, monkeypatch):
    monkeypatch.setattr(admin_list, "EXACT_COUNT_UP_TO", 3)
    monkeypatch.setattr(admin_list, "ESTIMATE_TRUSTED_FROM", 3)
    make_emails(6)
    response, queries = captured(admin_client, LIST)
    paginator = response.context["cl"].paginator
    if connection.vendor == "postgresql":
        assert paginator.count_is_estimate and paginator.count >= 3
        assert "about" in response.content.decode().split('class="paginator"')[1]
        assert not [sql for sql in queries if sql.startswith("SELECT COUNT(*) AS")]  # never a plain full count
    else:
        assert not paginator.count_is_estimate and paginator.count == 6


# Filters and "Show counts" -------------------------------------------------------------------------


def test_each_filter_option_shows_its_emails(admin_client, settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.7
    [low] = make_emails(1, lowest_confidence=0.5, status=Status.MANUAL_REVIEW, prefix="low")
    [medium] = make_emails(1, lowest_confidence=0.8, intent="payment_plan", prefix="medium")
    [high] = make_emails(1, lowest_confidence=0.95, intent="rejection", prefix="high")
    [unread] = make_emails(1, lowest_confidence=None, intent="", status=Status.FAILED, prefix="none")
    for query, expected in [
        ("confidence_band=low", [low]), ("confidence_band=medium", [medium]), ("confidence_band=high", [high]),
        ("confidence_band=none", [unread]), ("intent__exact=payment_plan", [medium]),
        ("status__exact=failed", [unread]), ("status__exact=manual_review", [low]),
    ]:
        assert shown(admin_client.get(f"{LIST}?{query}")) == expected, query


def facet_titles(response, title):
    spec = next(s for s in response.context["cl"].filter_specs if s.title == title)
    return [choice["display"] for choice in spec.choices(response.context["cl"])]


def test_show_counts_on_a_small_table_counts_each_option_without_a_subquery(admin_client, settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.7
    make_emails(2, lowest_confidence=0.5, prefix="l", intent="payment_plan")
    make_emails(3, lowest_confidence=0.95)
    response, queries = captured(admin_client, LIST + "?_facets=1")
    assert response.context["cl"].add_facets
    assert "below review threshold (2)" in facet_titles(response, "confidence")
    assert "0.9 and above (3)" in facet_titles(response, "confidence")
    assert "Payment plan (2)" in facet_titles(response, "intent")
    facet_queries = [sql for sql in queries if "FILTER (WHERE" in sql]
    assert facet_queries
    assert not [sql for sql in facet_queries if "IN (SELECT" in sql.upper()]


def test_show_counts_is_not_offered_on_a_big_table(admin_client, monkeypatch):
    monkeypatch.setattr(admin_list, "FACETS_UP_TO_ROWS", 3)
    make_emails(5 if connection.vendor == "sqlite" else 1)  # PostgreSQL: the planner's estimate decides
    response, queries = captured(admin_client, LIST + "?_facets=1")
    changelist = response.context["cl"]
    assert not changelist.add_facets and not changelist.is_facets_optional
    assert "Show counts" not in response.content.decode()
    assert not [sql for sql in queries if "FILTER (WHERE" in sql]


# Search ---------------------------------------------------------------------------------------------


def test_search_finds_emails_with_every_word_in_sender_or_subject(admin_client):
    [both] = make_emails(1, subject="Ihr Zeichen 2026/4711 – Müller", prefix="a")
    [sender_only] = make_emails(1, sender="Inkasso Müller GmbH", subject="Az. 4711", prefix="b")
    make_emails(1, subject="Ihr Zeichen 2026/4712 – Müller", prefix="c")
    make_emails(1, subject="Az. 4711 – Schmidt", prefix="d")
    found = shown(admin_client.get(LIST + "?q=müller+4711"))
    assert sorted(e.pk for e in found) == sorted([both.pk, sender_only.pk])


def test_search_finds_a_message_id_only_as_a_whole(admin_client):
    [email] = make_emails(1, message_id="<20261102.4711@mail.example.de>")
    assert shown(admin_client.get(LIST + "?q=%3C20261102.4711%40mail.example.de%3E")) == [email]
    assert shown(admin_client.get(LIST + "?q=20261102.4711")) == []


def test_search_leaves_out_words_shorter_than_three_characters_and_says_so(admin_client):
    [email] = make_emails(1, subject="Az 12 Forderung Becker", prefix="a")
    make_emails(1, subject="Forderung Weber", prefix="b")
    response = admin_client.get(LIST + "?q=Az+12+Becker")
    assert shown(response) == [email]
    assert "Left out of the search (shorter than 3 characters): Az, 12" in response.content.decode()
    assert len(shown(admin_client.get(LIST + "?q=Az"))) == 2  # nothing left to search for: the whole list
    assert shown(admin_client.get(LIST + '?q="Forderung+Becker"')) == [email]  # a quoted phrase is one word


@pytest.mark.postgres_only
@pytest.mark.parametrize("index", ["email_sender_trgm_idx", "email_subject_trgm_idx"])
def test_search_on_postgresql_is_answered_by_the_trigram_indexes(admin_client, index):
    make_emails(3)
    model_admin = admin_client.get(LIST).context["cl"].model_admin
    queryset, _ = model_admin.get_search_results(None, IncomingEmail.objects.order_by(), "Müller 4711")
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # A 3-row table would be read whole otherwise: leave the planner only the indexes for the words.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan


def test_requeueing_more_than_the_limit_at_once_is_refused_with_the_command_to_use(admin_client, monkeypatch):
    monkeypatch.setattr(email_admin, "REQUEUE_AT_MOST", 3)
    failed = make_emails(4, status=Status.FAILED)
    response = admin_client.post(
        LIST, {"action": "requeue", "select_across": "1", "index": "0", ACTION_CHECKBOX_NAME: [failed[0].pk]},
        follow=True,
    )
    assert "select at most 3 e-mails at once, or run `manage.py reprocess_emails --status failed`" in (
        response.content.decode()
    )
    assert IncomingEmail.objects.filter(status=Status.FAILED).count() == 4
    admin_client.post(LIST, {"action": "requeue", "index": "0", ACTION_CHECKBOX_NAME: [e.pk for e in failed[:3]]})
    assert IncomingEmail.objects.filter(status=Status.FAILED).count() == 1
