"""Intake from the practice's IMAP mailbox: fetch new messages, ingest each once, file them away.

A fetch holds a lease on the folder's MailboxState row (one fetch per folder at a time; a killed
worker's lease runs out after IMAP_LOCK_SECONDS), then reads the messages above the last UID it
handled, in batches bounded by IMAP_BATCH_SIZE and IMAP_BATCH_MAX_BYTES. Each message is ingested
(its own commit), then the folder's last UID advanced: a run cut off anywhere is continued by the
next one, and the Message-ID dedupe catches whatever it meets again (a message stored just before
the cut, or a re-read folder after a changed UIDVALIDITY). After each batch the handled messages are
moved to IMAP_PROCESSED_FOLDER, or flagged; a message that cannot be parsed stays where it is and is
reported once (MailboxFailure, one log line).
"""

import contextlib
import hashlib
import logging
import secrets
from datetime import timedelta
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.utils import timezone
from imapclient import FLAGGED
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from extraction import ingest
from extraction.imap import FetchFailed, close, connect, describe, parse_url, scrubbed
from extraction.ingestion import ingest_message
from extraction.models import MailboxFailure, MailboxState

logger = logging.getLogger(__name__)


def imap_fetch(*, url=None, progress=None):
    """Fetch new mail from the IMAP folder of `url` (default IMAP_URL), ingest it, file it away.

    Returns counts: fetched, ingested, duplicates, failed (unreadable), vanished (deleted meanwhile),
    moved, flagged, plus `error` (why the run stopped, "" if it did not) and `skipped` (why it did not
    run: another fetch holds the mailbox). `progress(counts, total)` is called after each batch.
    """
    url = settings.IMAP_URL if url is None else url
    if not url:
        raise ImproperlyConfigured("IMAP_URL is not set: there is no mailbox to fetch from.")
    mailbox = parse_url(url)
    fetch = _Fetch(mailbox, progress)
    state, _ = MailboxState.objects.get_or_create(mailbox=mailbox.key)
    if not fetch.acquire(state):
        fetch.counts["skipped"] = "another fetch of this mailbox is running"
        logger.info("IMAP %s: not fetched, %s", mailbox, fetch.counts["skipped"])
        return fetch.counts
    try:
        fetch.run()
    except FetchFailed as exc:
        fetch.counts["error"] = str(exc)
        logger.warning("IMAP %s: fetch stopped after %d message(s): %s", mailbox, fetch.counts["fetched"], exc)
    except Exception as exc:
        fetch.counts["error"] = scrubbed(f"{type(exc).__name__}: {exc}", mailbox)
        logger.exception("IMAP %s: fetch failed after %d message(s)", mailbox, fetch.counts["fetched"])
    finally:
        fetch.finish()
    return fetch.counts


class _Fetch:
    """One run over one folder; the state row is only written while this run holds its lease."""

    def __init__(self, mailbox, progress):
        self.mailbox = mailbox
        self.progress = progress
        self.token = secrets.token_hex(16)
        self.state = None
        self.processed = None  # the folder ingested messages go to; None: they are flagged
        self.counts = {
            "mailbox": str(mailbox), "fetched": 0, "ingested": 0, "duplicates": 0, "failed": 0, "vanished": 0,
            "moved": 0, "flagged": 0, "error": "", "skipped": "",
        }

    # The lease ----------------------------------------------------------------------------------

    def acquire(self, state):
        """Take the mailbox's lease if it is free or has run out; False while another fetch holds it."""
        now = timezone.now()
        mailbox_state = MailboxState.objects.filter(pk=state.pk)
        lease = {"lease_token": self.token, **self._lease(now)}
        if not mailbox_state.filter(lease_expires_at__isnull=True).update(**lease):
            if not mailbox_state.filter(lease_expires_at__lt=now).update(**lease):
                return False
            logger.warning("IMAP %s: took over the lease of a fetch that stopped without releasing it "
                           "(a killed worker?)", self.mailbox)
        self.state = mailbox_state.get()
        return True

    @staticmethod
    def _lease(now):
        return {"lease_expires_at": now + timedelta(seconds=settings.IMAP_LOCK_SECONDS)}

    def _save(self, **changes):
        """Write state changes and renew the lease, only if this run still holds it."""
        held = MailboxState.objects.filter(pk=self.state.pk, lease_token=self.token)
        if not held.update(**changes, **self._lease(timezone.now())):
            raise FetchFailed(
                "another fetch took the mailbox over after this one made no progress for IMAP_LOCK_SECONDS "
                f"({settings.IMAP_LOCK_SECONDS} s)"
            )
        for name, value in changes.items():
            setattr(self.state, name, value)

    def finish(self):
        now = timezone.now()
        outcome = {"last_counts": self.counts}
        if self.counts["error"]:
            outcome.update(last_error=self.counts["error"], last_error_at=now)
        else:
            outcome.update(last_success_at=now)
        MailboxState.objects.filter(pk=self.state.pk).update(**outcome, updated_at=now)
        MailboxState.objects.filter(pk=self.state.pk, lease_token=self.token).update(
            lease_token="", lease_expires_at=None
        )
        if self.counts["fetched"] or self.counts["moved"] or self.counts["flagged"]:
            logger.info(
                "IMAP %(mailbox)s: %(fetched)d fetched, %(ingested)d new, %(duplicates)d duplicate(s), "
                "%(failed)d unreadable, %(vanished)d deleted meanwhile, %(moved)d moved, %(flagged)d flagged",
                self.counts,
            )

    # The run ------------------------------------------------------------------------------------

    def run(self):
        client = connect(self.mailbox)
        try:
            self._run(client)
        finally:
            close(client)

    def _run(self, client):
        doing = f"opening the folder {self.mailbox.folder}"
        try:
            uid_validity = client.select_folder(self.mailbox.folder)[b"UIDVALIDITY"]
            self._check_uid_validity(uid_validity)
            doing = "preparing the processed folder"
            self.processed = self._processed_folder(client)
            doing = "filing messages ingested by an earlier run"
            self._file(client, self.state.unfiled_uids)
            doing = "searching for new messages"
            # "UID n:*" always matches the newest message, even one below n: filter again.
            uids = sorted(uid for uid in client.search(["UID", f"{self.state.last_uid + 1}:*"])
                          if uid > self.state.last_uid)
            doing = "reading the sizes of the new messages"
            batches = list(_batches(client, uids))  # UIDs only: a few bytes per message
            for batch in batches:
                doing = f"fetching messages (UIDs {batch[0]}–{batch[-1]})"
                self._ingest_batch(uid_validity, batch, self._fetch_batch(client, batch))
                doing = "filing ingested messages"
                self._file(client, self.state.unfiled_uids)
                if self.progress is not None:
                    self.progress(self.counts, len(uids))
        except (FetchFailed, DatabaseError):
            raise
        except Exception as exc:
            raise FetchFailed(describe(exc, self.mailbox, doing)) from None

    def _check_uid_validity(self, uid_validity):
        if self.state.uid_validity == uid_validity:
            return
        if self.state.uid_validity is not None:
            logger.warning(
                "IMAP %s: UIDVALIDITY changed from %s to %s (the server renumbered the folder): reading it again "
                "from the start; messages already ingested are recognised by their Message-ID",
                self.mailbox, self.state.uid_validity, uid_validity,
            )
        self._save(uid_validity=uid_validity, last_uid=0, unfiled_uids=[])

    def _processed_folder(self, client):
        folder = settings.IMAP_PROCESSED_FOLDER
        if not folder or folder == self.mailbox.folder:
            return None
        if not client.has_capability("MOVE"):
            logger.debug("IMAP %s: the server cannot MOVE; ingested messages are flagged instead", self.mailbox)
            return None
        if not client.folder_exists(folder):
            client.create_folder(folder)
            client.subscribe_folder(folder)
            logger.info("IMAP %s: created the folder %s for processed messages", self.mailbox, folder)
        return folder

    def _fetch_batch(self, client, uids):
        """{uid: raw bytes}; a message deleted by someone meanwhile is simply not in it."""
        try:
            fetched = client.fetch(uids, ["BODY.PEEK[]"])
        except IMAPClientAbortError:
            raise
        except IMAPClientError:
            # The server refused the whole batch (a message in it is gone?): ask for each, keep what exists.
            fetched = {}
            for uid in uids:
                with contextlib.suppress(IMAPClientError):
                    fetched.update(client.fetch([uid], ["BODY.PEEK[]"]))
        raw_by_uid = {uid: data[b"BODY[]"] for uid, data in fetched.items() if data.get(b"BODY[]") is not None}
        missing = [uid for uid in uids if uid not in raw_by_uid]
        # Only a message the folder no longer has may be skipped; anything else stops the run (nothing lost).
        still_there = client.search(["UID", ",".join(map(str, missing))]) if missing else []
        if still_there:
            raise FetchFailed(f"the server did not hand out the messages with UIDs {sorted(still_there)} "
                              "although the folder still has them; the next run tries again")
        return raw_by_uid

    def _ingest_batch(self, uid_validity, uids, raw_by_uid):
        for uid in uids:
            raw = raw_by_uid.pop(uid, None)  # pop: a handled message's bytes are freed at once
            # ingest_message commits each e-mail on its own (it refuses to run inside a transaction of ours).
            # A run that stops before the folder's last UID is saved meets the message again next time,
            # and the Message-ID dedupe makes it a duplicate: nothing is ingested twice or lost.
            outcome = "vanished" if raw is None else self._ingest(uid_validity, uid, raw)
            self.counts["fetched"] += raw is not None
            self.counts[outcome] += 1
            if raw is None:
                logger.info("IMAP %s: UID %d was deleted from the folder before it was fetched", self.mailbox, uid)
            unfiled = self.state.unfiled_uids + ([uid] if outcome in ("ingested", "duplicates") else [])
            self._save(last_uid=uid, unfiled_uids=unfiled)

    def _ingest(self, uid_validity, uid, raw):
        try:
            email = ingest_message(raw)
        except ingest.MalformedMessage as exc:
            with transaction.atomic():
                self._report_unreadable(uid_validity, uid, raw, f"not a usable e-mail: {exc}")
            return "failed"
        # Anything else (the database, the disk, a bug) stops the run: the next one retries the message.
        return "duplicates" if email.is_duplicate else "ingested"

    def _report_unreadable(self, uid_validity, uid, raw, reason):
        sha256 = hashlib.sha256(raw).hexdigest()
        # Reported before the folder was renumbered (UIDVALIDITY): the same message, already reported.
        earlier = self.state.failures.filter(sha256=sha256).exclude(uid_validity=uid_validity).first()
        if earlier is not None:
            earlier.uid_validity, earlier.uid = uid_validity, uid
            earlier.save(update_fields=["uid_validity", "uid"])
            return
        sender, subject = _headers(raw)
        reason = _storable(reason)
        _, created = MailboxFailure.objects.get_or_create(
            mailbox=self.state, uid_validity=uid_validity, uid=uid,
            defaults={"sha256": sha256, "size": len(raw), "sender": sender, "subject": subject, "reason": reason},
        )
        if created:
            transaction.on_commit(lambda: logger.warning(
                "IMAP %s: message UID %d (%d bytes, from %r, subject %r) cannot be ingested and stays in the "
                "folder: %s", self.mailbox, uid, len(raw), sender, subject, reason,
            ))

    def _file(self, client, uids):
        """Move ingested messages to the processed folder (or flag them), then forget them."""
        if not uids:
            return
        if self.processed:
            client.move(uids, self.processed)
            self.counts["moved"] += len(uids)
        else:
            client.add_flags(uids, [FLAGGED], silent=True)
            self.counts["flagged"] += len(uids)
        with transaction.atomic():
            self._save(unfiled_uids=[])


def _batches(client, uids):
    """The UIDs in batches of at most IMAP_BATCH_SIZE messages and IMAP_BATCH_MAX_BYTES (a larger message alone).

    Sizes come from the server first (a few bytes per message), so memory stays bounded by one batch
    however large the folder or its messages.
    """
    batch_size, max_bytes = max(1, settings.IMAP_BATCH_SIZE), settings.IMAP_BATCH_MAX_BYTES
    batch, batch_bytes = [], 0
    for start in range(0, len(uids), 1000):
        chunk = uids[start:start + 1000]
        sizes = {uid: data.get(b"RFC822.SIZE", 0) for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items()}
        for uid in chunk:
            size = sizes.get(uid, 0)  # a message deleted meanwhile has no size: the batch's fetch skips it
            if batch and (len(batch) >= batch_size or batch_bytes + size > max_bytes):
                yield batch
                batch, batch_bytes = [], 0
            batch.append(uid)
            batch_bytes += size
    if batch:
        yield batch


def _storable(text):
    # A broken message's 8-bit headers arrive as lone surrogates, and PostgreSQL text cannot hold NUL.
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _headers(raw):
    """(From, Subject) of a message that may be broken, best effort, for the report."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536])
        return tuple(
            _storable(str(make_header(decode_header(headers.get(name, "")))))[:998] for name in ("From", "Subject")
        )
    except Exception:  # the report must not fail on the very message it reports
        return "", ""
