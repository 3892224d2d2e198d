"""First fetch of 1,000 messages from a real Dovecot on 127.0.0.1 (TLS), on a throw-away SQLite file (WAL).

Target (intake issue): ≥ 100 messages/s on SQLite, everything included: TLS, UID SEARCH, FETCH in
batches, MIME parsing, the e-mail and attachment rows, attachment files, one django-q2 task queued
per e-mail, the folder state advanced per message, and every message moved to the processed folder.
Memory is bounded by the batch size: the Python heap's peak (tracemalloc) is measured for two batch
sizes, in separate runs (tracemalloc slows everything down, so it is off while the rate is timed).
The memory runs use a mailbox of larger messages (a 100 KB PDF each, 100 MB in all), so that what
a batch holds shows against the size of the whole mailbox.
"""

import logging
import os
import re
import tempfile
import time
import tracemalloc
from email.message import EmailMessage

DATABASES = ("sqlite",)
MESSAGES = 1000
BATCH_SIZES = (20, 200)
PDF_BYTES = 100_000


def mailbox_messages(run):
    """MESSAGES German creditor e-mails (the test e-mails in turn), each with its own Message-ID."""
    from bench.bench_extraction_ingest import GOOD_TEMPLATES, TEMPLATES

    templates = [(TEMPLATES / name).read_bytes() for name in GOOD_TEMPLATES]
    return [
        re.sub(rb"Message-ID: <[^>]*>", b"Message-ID: <bench-%s-%d@creditor.example>" % (run.encode(), n),
               templates[n % len(templates)], count=1)
        for n in range(MESSAGES)
    ]


def messages_with_pdfs(run):
    """MESSAGES creditor e-mails, each with its own PDF of PDF_BYTES (incompressible)."""
    messages = []
    for n in range(MESSAGES):
        message = EmailMessage()
        message["From"] = "Inkasso Süd GmbH <forderungen@inkasso-sued.example>"
        message["To"] = "kanzlei@schuldnerberatung.example"
        message["Subject"] = f"Forderungsaufstellung Az. {n}/2026 – Jürgen Weiß"
        message["Message-ID"] = f"<bench-{run}-{n}@inkasso-sued.example>"
        message.set_content("Sehr geehrte Damen und Herren,\nanbei die Forderungsaufstellung.\n")
        message.add_attachment(b"%PDF-1.4\n" + os.urandom(PDF_BYTES), maintype="application", subtype="pdf",
                               filename=f"Forderungsaufstellung-{n}.pdf")
        messages.append(message.as_bytes())
    return messages


def fetch(server, folder, batch_size, *, trace):
    from django.test import override_settings

    from extraction.services import imap_fetch

    with override_settings(IMAP_URL=server.url(folder), IMAP_BATCH_SIZE=batch_size, IMAP_PROCESSED_FOLDER="Processed"):
        if trace:
            tracemalloc.start()
        started, cpu_started = time.perf_counter(), time.process_time()
        counts = imap_fetch()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        peak = tracemalloc.get_traced_memory()[1] if trace else None
        tracemalloc.stop()
    if counts["error"] or counts["ingested"] != MESSAGES:
        raise SystemExit(f"The fetch did not ingest every message: {counts}")
    return elapsed, cpu, peak


def main():
    from django.test import override_settings

    from extraction.tests.imap_server import DovecotServer, TestCertificates

    with tempfile.TemporaryDirectory(prefix="bench-imap-") as tmp:
        certificates = TestCertificates(tmp)
        server = DovecotServer(certificates).start()
        try:
            sizes = {}
            for batch_size in BATCH_SIZES:
                for purpose, build in (("rate", mailbox_messages), ("memory", messages_with_pdfs)):
                    messages = build(f"{purpose}{batch_size}")
                    sizes[purpose] = sum(map(len, messages))
                    server.append(messages, folder=f"{purpose}{batch_size}")
                    del messages
            results = {}
            # django-q2 logs a line per queued task; fetch_mail quiets it the same way.
            logging.getLogger("django-q").setLevel(logging.WARNING)
            with override_settings(IMAP_CA_FILE=str(certificates.ca)):
                for batch_size in BATCH_SIZES:
                    elapsed, cpu, _ = fetch(server, f"rate{batch_size}", batch_size, trace=False)
                    _, _, peak = fetch(server, f"memory{batch_size}", batch_size, trace=True)
                    results[batch_size] = (elapsed, cpu, peak)
        finally:
            server.close()
    print(f"   mailboxes:           {MESSAGES} test e-mails ({sizes['rate'] / 2**20:.1f} MB) for the rate, {MESSAGES} "
          f"with a PDF ({sizes['memory'] / 2**20:.0f} MB) for memory; Dovecot 2.3 on 127.0.0.1, TLS; SQLite (WAL)")
    for batch_size, (elapsed, cpu, peak) in results.items():
        rate = MESSAGES / elapsed
        print(f"   IMAP_BATCH_SIZE={batch_size:<4} {rate:6.0f} messages/s ({elapsed:.2f} s; this process's CPU "
              f"{cpu * 1000 / MESSAGES:.1f} ms/message) {'OK' if rate >= 100 else 'MISSED'} (target ≥ 100/s); "
              f"Python heap peak {peak / 2**20:.1f} MB")
