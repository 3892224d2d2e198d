"""`ingest_emails` on a directory of real-shaped creditor e-mails, on a throw-away SQLite file (WAL).

Target (extraction issue): ≥ 200 messages/s on SQLite, everything included: reading the files,
MIME parsing and decoding, the e-mail and attachment rows, attachment files written under
MEDIA_ROOT, and one django-q2 task queued per e-mail (ORM broker, same database).
"""

import re
import tempfile
import time
from io import StringIO
from pathlib import Path

DATABASES = ("sqlite",)
MESSAGES = 2000
TEMPLATES = Path(__file__).resolve().parent.parent / "extraction" / "tests" / "data"
GOOD_TEMPLATES = [
    "acceptance_utf8_qp.eml", "rejection_windows1252.eml", "counter_offer_base64.eml", "statement_with_pdf.eml",
    "photographed_letter.eml", "out_of_office.eml", "statement_iso8859_qp.eml",
]


def write_messages(directory, count):
    """`count` .eml files cycling through the test e-mails, each its own message.

    Like real mail, every copy has its own Message-ID, subject and MIME boundaries: identical header
    values would flatter the parser's cache of parsed header values.
    """
    templates = [(TEMPLATES / name).read_bytes() for name in GOOD_TEMPLATES]
    total_bytes = 0
    for number in range(count):
        raw = re.sub(rb"Message-ID: <[^>]*>", b"Message-ID: <bench-%d@creditor.example>" % number,
                     templates[number % len(templates)], count=1)
        raw = re.sub(rb"(?m)^(Subject: .*?)\r?$", rb"\1 (%d)" % number, raw, count=1)
        for boundary in set(re.findall(rb'boundary="([^"]+)"', raw)):
            raw = raw.replace(boundary, boundary + b"-%d" % number)
        (directory / f"{number:05d}.eml").write_bytes(raw)
        total_bytes += len(raw)
    return total_bytes


def main():
    from django.core.management import call_command

    from extraction.models import EmailAttachment, IncomingEmail

    with tempfile.TemporaryDirectory(prefix="bench-mail-") as tmp:
        mail = Path(tmp)
        total_bytes = write_messages(mail, MESSAGES)
        started = time.perf_counter()
        call_command("ingest_emails", str(mail), stdout=StringIO(), stderr=StringIO())
        elapsed = time.perf_counter() - started
        stored = IncomingEmail.objects.count()
        attachments = EmailAttachment.objects.count()
        from django_q.models import OrmQ

        queued = OrmQ.objects.count()
        started = time.perf_counter()
        call_command("ingest_emails", str(mail), stdout=StringIO(), stderr=StringIO())
        duplicates_elapsed = time.perf_counter() - started
    rate = MESSAGES / elapsed
    print(f"   new messages:        {MESSAGES} files ({total_bytes / 2**20:.1f} MB), {stored} e-mails, "
          f"{attachments} attachments stored, {queued} tasks queued")
    print(f"   ingestion:           {rate:8.0f} messages/s ({elapsed:.2f} s, SQLite file, WAL)")
    print(f"   re-import (all dup): {MESSAGES / duplicates_elapsed:8.0f} messages/s")
    print(f"   target: ≥ 200 messages/s {'OK' if rate >= 200 else 'MISSED'}")
