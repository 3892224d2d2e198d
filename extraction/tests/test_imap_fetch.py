"""Intake from a real IMAP server: Dovecot on 127.0.0.1 with TLS from a test CA (extraction.tests.imap_server).

Every test drives the product's fetch against the running server: German creditor mail with
attachments, a broken message, runs that are cut off (server stopped, connection dropped), a
renumbered folder, two fetches at once, and logs that never contain the password.
"""

import logging
import re
import threading
from datetime import timedelta
from io import StringIO
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule

from extraction import imap, intake, services
from extraction.models import EmailAttachment, IncomingEmail, MailboxFailure, MailboxState
from extraction.schedules import FETCH_MAIL
from extraction.services import imap_fetch
from extraction.tests.conftest import raw_email
from extraction.tests.imap_server import PASSWORD, DovecotServer, TestCertificates

PROCESSED = "Gläubiger/Erledigt"  # non-ASCII and nested: IMAP's modified UTF-7 names and a hierarchy
GERMAN_MAIL = [
    "acceptance_utf8_qp.eml", "rejection_windows1252.eml", "counter_offer_base64.eml", "statement_with_pdf.eml",
    "photographed_letter.eml", "out_of_office.eml", "statement_iso8859_qp.eml",
]
BROKEN = "broken_mime.eml"


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    return TestCertificates(tmp_path_factory.mktemp("imap-tls"))


@pytest.fixture
def dovecot(certificates, settings):
    server = DovecotServer(certificates).start()
    settings.IMAP_URL = server.url()
    settings.IMAP_CA_FILE = str(certificates.ca)
    settings.IMAP_PROCESSED_FOLDER = PROCESSED
    settings.IMAP_BATCH_SIZE = 3
    yield server
    server.close()


def numbered(number):
    """A German creditor answer with its own Message-ID."""
    raw = raw_email(GERMAN_MAIL[number % len(GERMAN_MAIL)])
    return re.sub(rb"Message-ID: <[^>]*>", b"Message-ID: <imap-%d@creditor.example>" % number, raw, count=1)


def state():
    return MailboxState.objects.get()


def stored_message_ids():
    return sorted(IncomingEmail.objects.values_list("message_id", flat=True))


pytestmark = pytest.mark.django_db


# A mailbox fetched ------------------------------------------------------------------------------

def test_the_first_fetch_ingests_german_mail_with_attachments_and_leaves_the_broken_message(dovecot):
    dovecot.append([raw_email(name) for name in GERMAN_MAIL[:3]] + [raw_email(BROKEN)]
                   + [raw_email(name) for name in GERMAN_MAIL[3:]])

    counts = imap_fetch()

    assert counts | {"mailbox": ""} == {
        "mailbox": "", "fetched": 8, "ingested": 7, "duplicates": 0, "failed": 1, "vanished": 0,
        "moved": 7, "flagged": 0, "error": "", "skipped": "",
    }
    assert IncomingEmail.objects.count() == 7
    statement = IncomingEmail.objects.get(message_id="<stmt-2026-118-BK@kanzlei-brandt-kollegen.example>")
    assert statement.subject == "Forderungsaufstellung Thomas Becker, Az. 2026/118-BK"
    assert statement.attachments.get().content_type == "application/pdf"
    assert EmailAttachment.objects.filter(content_type="image/jpeg").exists()
    rejection = IncomingEmail.objects.get(message_id="<a81f2c9e-77b3-4f1a-9c2d-rej@vodafone-fm.example>")
    assert "Anna Schäfer" in rejection.subject
    # The seven are filed away; the broken one is the only message left in the inbox, and reported.
    assert len(dovecot.uids(PROCESSED)) == 7
    assert dovecot.uids("INBOX") == [4]
    failure = MailboxFailure.objects.get()
    assert (failure.uid, failure.subject) == (4, "Forderung 5512")
    assert failure.sender == "Inkasso Nord <post@inkasso-nord.example>"
    assert "broken MIME structure" in failure.reason
    assert (state().last_uid, state().unfiled_uids, state().last_error) == (8, [], "")
    assert state().last_success_at is not None


def test_an_unreadable_message_with_raw_8bit_headers_and_nul_bytes_is_reported(dovecot):
    broken = (b"From: Inkasso M\xfcller <post@mueller.example>\r\nSubject: Forderung \xe4\x00 offen\r\n"
              b"Content-Type: multipart/mixed\r\n\r\nkein Inhalt\r\n")
    dovecot.append([broken, numbered(1)])

    counts = imap_fetch()

    assert (counts["failed"], counts["ingested"], counts["error"]) == (1, 1, "")
    failure = MailboxFailure.objects.get()
    assert failure.sender.startswith("Inkasso M") and "\x00" not in failure.subject
    assert "declares no boundary" in failure.reason


def test_the_processed_messages_arrive_unchanged_in_the_processed_folder(dovecot):
    originals = [numbered(n) for n in range(4)]
    dovecot.append(originals)
    imap_fetch()
    filed = [raw for raw, _ in dovecot.messages(PROCESSED).values()]
    assert sorted(filed) == sorted(originals)


def test_a_second_run_fetches_nothing_and_reports_the_broken_message_no_more(
    dovecot, caplog, queued, django_capture_on_commit_callbacks
):
    dovecot.append([numbered(1), raw_email(BROKEN), numbered(2)])
    with django_capture_on_commit_callbacks(execute=True):
        imap_fetch()
    reported = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(reported) == 1 and "UID 2" in reported[0] and "stays in the folder" in reported[0]
    caplog.clear()

    with django_capture_on_commit_callbacks(execute=True):
        counts = imap_fetch()

    assert (counts["fetched"], counts["ingested"], counts["failed"], counts["moved"]) == (0, 0, 0, 0)
    assert IncomingEmail.objects.count() == 2
    assert MailboxFailure.objects.count() == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert dovecot.uids("INBOX") == [2]


def test_new_mail_between_runs_is_fetched_by_the_next_run(dovecot):
    dovecot.append([numbered(n) for n in range(4)])
    imap_fetch()
    dovecot.append([numbered(n) for n in range(4, 9)])

    counts = imap_fetch()

    assert (counts["fetched"], counts["ingested"], counts["duplicates"]) == (5, 5, 0)
    assert stored_message_ids() == sorted(f"<imap-{n}@creditor.example>" for n in range(9))
    assert dovecot.uids("INBOX") == []
    assert state().last_uid == 9


def test_a_message_already_ingested_from_a_file_is_a_duplicate_and_still_filed(dovecot):
    services.ingest_message(numbered(1))
    dovecot.append([numbered(1), numbered(2)])
    counts = imap_fetch()
    assert (counts["ingested"], counts["duplicates"], counts["moved"]) == (1, 1, 2)
    assert IncomingEmail.objects.count() == 2


def test_each_new_email_is_queued_once(dovecot, queued, django_capture_on_commit_callbacks):
    dovecot.append([numbered(n) for n in range(5)])
    with django_capture_on_commit_callbacks(execute=True):
        imap_fetch()
        imap_fetch()
    assert sorted(queued) == sorted(IncomingEmail.objects.values_list("pk", flat=True))


def test_a_server_without_move_gets_the_messages_flagged(certificates, settings):
    without_move = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS MULTIAPPEND"
    server = DovecotServer(certificates, capabilities=without_move).start()
    try:
        settings.IMAP_URL, settings.IMAP_CA_FILE = server.url(), str(certificates.ca)
        server.append([numbered(1), raw_email(BROKEN), numbered(2)])

        counts = imap_fetch()

        assert (counts["ingested"], counts["moved"], counts["flagged"]) == (2, 0, 2)
        flags = {uid: flags for uid, (_, flags) in server.messages("INBOX").items()}
        assert flags == {1: (b"\\Flagged",), 2: (), 3: (b"\\Flagged",)}
        assert imap_fetch()["fetched"] == 0
    finally:
        server.close()


def test_without_a_processed_folder_the_messages_are_flagged(dovecot, settings):
    settings.IMAP_PROCESSED_FOLDER = ""
    dovecot.append([numbered(1)])
    assert imap_fetch()["flagged"] == 1
    assert dovecot.uids(PROCESSED) == []


def test_thousands_of_messages_are_fetched_in_batches(dovecot, settings, monkeypatch):
    settings.IMAP_BATCH_SIZE = 4
    dovecot.append([numbered(n) for n in range(10)])
    batches = []
    original = intake._Fetch._fetch_batch
    monkeypatch.setattr(intake._Fetch, "_fetch_batch", lambda self, client, uids: batches.append(uids) or original(
        self, client, uids))
    seen = []

    imap_fetch(progress=lambda counts, total: seen.append((counts["fetched"], total)))

    assert batches == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert seen == [(4, 10), (8, 10), (10, 10)]


def test_a_batch_is_also_bounded_by_its_bytes(dovecot, settings, monkeypatch):
    settings.IMAP_BATCH_SIZE = 100
    settings.IMAP_BATCH_MAX_BYTES = 40_000
    large = numbered(2) + b"\r\n" + b"Anlage folgt.\r\n" * 4000  # ~60 KB: a batch of its own
    dovecot.append([numbered(0), numbered(1), large, numbered(3), numbered(4)])
    batches = []
    original = intake._Fetch._fetch_batch
    monkeypatch.setattr(intake._Fetch, "_fetch_batch", lambda self, client, uids: batches.append(uids) or original(
        self, client, uids))

    assert imap_fetch()["ingested"] == 5
    assert batches == [[1, 2], [3], [4, 5]]


# Faults -----------------------------------------------------------------------------------------

def test_a_server_that_is_down_is_reported_and_nothing_changes(dovecot):
    dovecot.stop()
    counts = imap_fetch()
    assert "refused the connection (is the IMAP server down" in counts["error"]
    assert state().last_error == counts["error"] and state().last_error_at is not None
    assert state().last_success_at is None and state().lease_token == ""


def test_a_wrong_password_is_reported_without_any_password(dovecot, settings):
    settings.IMAP_URL = dovecot.url(password="falsch-" + PASSWORD)
    counts = imap_fetch()
    assert counts["error"].startswith("the server refused the login of kanzlei@schuldnerberatung.example")
    assert PASSWORD not in counts["error"] and "falsch" not in counts["error"]


def test_a_certificate_not_signed_by_a_trusted_ca_is_refused(dovecot, settings):
    settings.IMAP_CA_FILE = ""  # the system's CAs do not know the test CA
    dovecot.append([numbered(1)])
    counts = imap_fetch()
    assert "TLS certificate of 127.0.0.1" in counts["error"] and "IMAP_CA_FILE" in counts["error"]
    assert IncomingEmail.objects.count() == 0


def test_the_server_stopped_and_restarted_mid_run_loses_nothing_and_ingests_nothing_twice(dovecot):
    dovecot.append([numbered(n) for n in range(8)])

    def stop_after_the_first_batch(counts, total):
        if counts["fetched"] == 3:
            dovecot.stop()

    first = imap_fetch(progress=stop_after_the_first_batch)
    assert (first["ingested"], first["moved"]) == (3, 3)
    assert "connection" in first["error"] and state().last_uid == 3

    dovecot.start()
    second = imap_fetch()

    assert (second["fetched"], second["ingested"], second["duplicates"], second["error"]) == (5, 5, 0, "")
    assert stored_message_ids() == sorted(f"<imap-{n}@creditor.example>" for n in range(8))
    assert len(dovecot.uids(PROCESSED)) == 8 and dovecot.uids("INBOX") == []
    assert state().last_success_at > state().last_error_at


def test_a_connection_dropped_before_the_move_is_filed_by_the_next_run(dovecot, monkeypatch):
    dovecot.append([numbered(n) for n in range(5)])
    original = intake._Fetch._file
    kicked = []

    def drop_the_connection_first(self, client, uids):
        if uids and not kicked:
            kicked.append(uids)
            dovecot.kick()
        return original(self, client, uids)

    monkeypatch.setattr(intake._Fetch, "_file", drop_the_connection_first)

    first = imap_fetch()
    assert (first["ingested"], first["moved"]) == (3, 0)
    assert "the connection to 127.0.0.1" in first["error"]
    assert state().unfiled_uids == [1, 2, 3] and dovecot.uids("INBOX") == [1, 2, 3, 4, 5]

    second = imap_fetch()

    assert (second["ingested"], second["duplicates"], second["moved"], second["error"]) == (2, 0, 5, "")
    assert IncomingEmail.objects.count() == 5
    assert dovecot.uids("INBOX") == [] and len(dovecot.uids(PROCESSED)) == 5


def test_a_message_deleted_by_a_person_meanwhile_is_skipped_and_the_rest_continue(dovecot, settings):
    dovecot.append([numbered(n) for n in range(6)])

    def delete_from_the_next_batch(counts, total):
        if counts["fetched"] == 3:
            dovecot.delete([5])

    counts = imap_fetch(progress=delete_from_the_next_batch)

    assert counts["error"] == ""
    assert counts["ingested"] + counts["vanished"] == 6  # Dovecot may still hand out a just-deleted message
    assert imap_fetch()["fetched"] == 0
    assert dovecot.uids("INBOX") == []


def test_a_changed_uidvalidity_reads_the_folder_again_without_duplicates(dovecot, settings, caplog):
    settings.IMAP_PROCESSED_FOLDER = ""  # flagged: the messages stay in the folder that gets renumbered
    dovecot.append([numbered(1), raw_email(BROKEN), numbered(2)])
    imap_fetch()
    dovecot.change_uid_validity(dovecot.uid_validity() + 1000)
    dovecot.append([numbered(3)])
    caplog.clear()

    counts = imap_fetch()

    assert (counts["fetched"], counts["ingested"], counts["duplicates"], counts["failed"]) == (4, 1, 2, 1)
    assert IncomingEmail.objects.count() == 3
    assert MailboxFailure.objects.count() == 1  # reported once, before the renumbering
    assert MailboxFailure.objects.get().uid_validity == state().uid_validity
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "UIDVALIDITY changed" in warnings[0]


# Concurrency ------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_fetch_started_while_another_runs_leaves_the_mailbox_to_it(dovecot, queued):
    dovecot.append([numbered(n) for n in range(7)])
    second = []

    def start_another(counts, total):
        if not second:
            second.append(imap_fetch())

    first = imap_fetch(progress=start_another)

    assert second[0]["skipped"] == "another fetch of this mailbox is running"
    assert second[0]["fetched"] == 0
    assert first["ingested"] == 7
    assert len(queued) == 7


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_fetches_started_at_once_ingest_every_message_once(dovecot, queued):
    dovecot.append([numbered(n) for n in range(12)])
    barrier = threading.Barrier(2)
    results = []

    def fetch():
        from django.db import connection

        barrier.wait()
        try:
            results.append(imap_fetch())
        finally:
            connection.close()

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r["ingested"] for r in results) == 12
    assert sum(r["fetched"] for r in results) == 12
    assert sorted(queued) == sorted(IncomingEmail.objects.values_list("pk", flat=True))
    assert dovecot.uids("INBOX") == [] and len(dovecot.uids(PROCESSED)) == 12


def test_a_fetch_whose_lease_was_taken_over_stops_before_ingesting_more(dovecot):
    dovecot.append([numbered(n) for n in range(7)])

    def another_fetch_takes_over(counts, total):
        # What happens when this run stalled past IMAP_LOCK_SECONDS and a new one took the mailbox.
        MailboxState.objects.update(lease_token="newer", lease_expires_at=timezone.now() + timedelta(minutes=5))

    counts = imap_fetch(progress=another_fetch_takes_over)

    # The fourth message was stored before the takeover was noticed: the new holder finds it a duplicate.
    assert counts["ingested"] == 4 and "another fetch took the mailbox over" in counts["error"]
    assert (state().last_uid, state().lease_token) == (3, "newer")


def test_the_task_the_schedule_names_fetches_the_mailbox(dovecot):
    # django-q2's scheduler runs tasks inside its own transaction in sync mode, where ingestion (one
    # durable transaction per e-mail) refuses to run; a worker calls the task outside any: so here.
    from django.utils.module_loading import import_string

    call_command("migrate", verbosity=0)
    dovecot.append([numbered(n) for n in range(2)])

    counts = import_string(Schedule.objects.get(name=FETCH_MAIL).func)()

    assert counts["ingested"] == 2 and IncomingEmail.objects.count() == 2
    assert state().last_success_at is not None


# Secrets ----------------------------------------------------------------------------------------

def test_the_password_appears_in_no_log_line_error_or_stored_row(dovecot, settings, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, IMAPClient's protocol log included
    dovecot.append([numbered(1), raw_email(BROKEN)])
    imap_fetch()
    settings.IMAP_URL = dovecot.url(password=PASSWORD + "-falsch")
    imap_fetch()
    settings.IMAP_URL = dovecot.url()
    monkeypatch.setattr(intake._Fetch, "_file", lambda self, client, uids: dovecot.kick() if uids else None)
    dovecot.append([numbered(2)])
    imap_fetch()
    dovecot.stop()
    imap_fetch()

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "LOGIN" in logged and "Forderung" in logged  # the protocol log was on
    stored = [repr(list(MailboxState.objects.values())), repr(list(MailboxFailure.objects.values()))]
    for text in [logged, *stored]:
        for form in (PASSWORD, quote(PASSWORD, safe="")):
            assert form not in text


def test_a_mailbox_is_named_without_its_password():
    mailbox = imap.parse_url(f"imaps://kanzlei%40example.org:{quote(PASSWORD, safe='')}@imap.example.org/INBOX")
    assert (mailbox.user, mailbox.password, mailbox.port) == ("kanzlei@example.org", PASSWORD, 993)
    for text in (str(mailbox), repr(mailbox), mailbox.key):
        assert PASSWORD not in text


@pytest.mark.parametrize("url", [
    f"imap://kanzlei:{PASSWORD}@imap.example.org/INBOX",
    f"kanzlei:{PASSWORD}@imap.example.org",
    f"imaps://kanzlei:{PASSWORD}@imap.example.org:notaport/INBOX",
    "imaps://imap.example.org/INBOX",
])
def test_an_unusable_imap_url_is_refused_without_its_password(url):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured) as refused:
        imap_fetch(url=url)
    assert PASSWORD not in str(refused.value) and "IMAP_URL" in str(refused.value)


# The command ------------------------------------------------------------------------------------

def test_fetch_mail_once_prints_a_summary(dovecot):
    dovecot.append([numbered(1), raw_email(BROKEN), numbered(1)])
    out = StringIO()
    call_command("fetch_mail", "--once", stdout=out)
    assert "3 fetched, 1 new e-mail(s) queued, 1 duplicate(s), 1 unreadable (left in the mailbox)" in out.getvalue()
    assert "2 moved" in out.getvalue()


def test_fetch_mail_fails_with_the_reason_when_the_server_is_down(dovecot):
    dovecot.stop()
    err = StringIO()
    with pytest.raises(CommandError, match="next run continues"):
        call_command("fetch_mail", "--once", stdout=StringIO(), stderr=err)
    assert "refused the connection" in err.getvalue()


def test_fetch_mail_without_once_fetches_every_interval_until_stopped(dovecot, monkeypatch):
    from extraction.management.commands import fetch_mail

    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 1:
            dovecot.append([numbered(2)])
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(fetch_mail, "sleep", sleep)
    dovecot.append([numbered(1)])
    out = StringIO()
    call_command("fetch_mail", stdout=out)
    assert sleeps == [60, 60]
    assert out.getvalue().count("1 new e-mail(s) queued") == 2 and out.getvalue().endswith("Stopped.\n")
