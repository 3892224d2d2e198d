"""One fetch per mailbox at a time, through a lease on its MailboxState row that a killed worker cannot keep;
the schedule that `migrate` registers while IMAP_URL is set."""

import logging
import socket
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule

from extraction import imap
from extraction.models import MailboxState
from extraction.schedules import FETCH_MAIL, register_schedules
from extraction.services import imap_fetch

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 nobody listens on: every fetch that really runs fails to connect."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return port


@pytest.fixture
def url(closed_port, settings):
    settings.IMAP_URL = f"imaps://kanzlei:geheim@127.0.0.1:{closed_port}/INBOX"
    return settings.IMAP_URL


def mailbox_state(url, **fields):
    return MailboxState.objects.create(mailbox=imap.parse_url(url).key, **fields)


def test_a_fetch_leaves_a_mailbox_alone_while_another_holds_its_lease(url):
    expires = timezone.now() + timedelta(minutes=4)
    mailbox_state(url, lease_token="other", lease_expires_at=expires)

    counts = imap_fetch()

    assert counts["skipped"] == "another fetch of this mailbox is running"
    state = MailboxState.objects.get()
    assert (state.lease_token, state.lease_expires_at, state.last_error) == ("other", expires, "")


def test_the_lease_of_a_killed_worker_runs_out_and_the_next_fetch_takes_over(url, caplog):
    mailbox_state(url, lease_token="killed", lease_expires_at=timezone.now() - timedelta(seconds=1))

    counts = imap_fetch()

    assert counts["skipped"] == "" and "refused the connection" in counts["error"]
    assert any("took over the lease" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    state = MailboxState.objects.get()
    assert (state.lease_token, state.lease_expires_at) == ("", None)  # released at the end of the run


def test_a_fetch_records_its_failure_and_releases_the_lease(url):
    counts = imap_fetch()
    state = MailboxState.objects.get()
    assert state.last_error == counts["error"] and state.last_counts == counts
    assert state.lease_token == "" and state.last_success_at is None


def test_a_lease_is_a_token_and_an_expiry_together():
    with pytest.raises(IntegrityError), transaction.atomic():
        MailboxState.objects.create(mailbox="a@h:993/INBOX", lease_token="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        MailboxState.objects.create(mailbox="b@h:993/INBOX", lease_expires_at=timezone.now())


def test_the_last_uid_cannot_be_negative():
    with pytest.raises(IntegrityError), transaction.atomic():
        MailboxState.objects.create(mailbox="a@h:993/INBOX", last_uid=-1)


def test_one_state_row_per_mailbox():
    MailboxState.objects.create(mailbox="a@h:993/INBOX")
    with pytest.raises(IntegrityError), transaction.atomic():
        MailboxState.objects.create(mailbox="a@h:993/INBOX")


def test_without_imap_url_there_is_nothing_to_fetch(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.IMAP_URL = ""
    with pytest.raises(ImproperlyConfigured, match="IMAP_URL is not set"):
        imap_fetch()


# The schedule -----------------------------------------------------------------------------------

def test_migrate_registers_one_fetch_every_minute_while_imap_url_is_set(url):
    register_schedules()
    register_schedules()
    schedule = Schedule.objects.get(name=FETCH_MAIL)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "extraction.tasks.fetch_mail", Schedule.MINUTES, 1, -1
    )
    assert schedule.args is None  # the task reads IMAP_URL itself: the password is never in a task row


def test_a_changed_interval_updates_the_schedule(url, settings):
    register_schedules()
    settings.IMAP_FETCH_MINUTES = 5
    register_schedules()
    assert Schedule.objects.get(name=FETCH_MAIL).minutes == 5


def test_unsetting_imap_url_removes_the_schedule(url, settings):
    register_schedules()
    settings.IMAP_URL = ""
    register_schedules()
    assert not Schedule.objects.filter(name=FETCH_MAIL).exists()


# Start-up checks --------------------------------------------------------------------------------

@pytest.mark.parametrize(("imap_url", "ca_file", "complaint"), [
    ("imap://kanzlei:geheim@imap.example.org/INBOX", "", "must start with imaps://"),
    ("imaps://kanzlei:geheim@imap.example.org:99999/INBOX", "", "not a URL"),
    ("imaps://kanzlei:geheim@imap.example.org/INBOX", "/nicht/da.pem", "IMAP_CA_FILE"),
])
def test_unusable_imap_settings_fail_the_start_up_check_without_the_password(settings, imap_url, ca_file, complaint):
    from extraction.checks import imap_settings_check

    settings.IMAP_URL, settings.IMAP_CA_FILE = imap_url, ca_file
    errors = imap_settings_check(None)
    assert [e.id for e in errors] == ["extraction.E001"]
    assert complaint in errors[0].msg and "geheim" not in errors[0].msg


def test_usable_imap_settings_pass_the_start_up_check(settings, url):
    from extraction.checks import imap_settings_check

    assert imap_settings_check(None) == []
