"""A bounded soak run: real `qcluster` processes work through a batch of e-mails against a flaky fake
Anthropic API on 127.0.0.1, then every e-mail is accounted for: processed, failed (with its reason), or
lost. Loopback only, on a throw-away database; it stops by itself.

    python -m devtools.soak [--emails 1000] [--clusters N] [--fault-rate 0.2] [--max-seconds 600]
                            [--redis redis://127.0.0.1:6379/5]

DATABASE_URL (environment or .env) chooses the server: unset or SQLite gives a temporary SQLite file
and one cluster; a PostgreSQL URL gives a `soak_…` database on that server and three clusters.
"""

import argparse
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime

from django.utils import timezone

from devtools import databases

BODY = (
    "Sehr geehrte Damen und Herren,\n\nbezugnehmend auf Ihr Schreiben vom 03.11.2026 teilen wir mit, dass die "
    "Forderung gegen {debtor} (Aktenzeichen INK-2026-{n:07d}) derzeit {total} beträgt "
    "(Hauptforderung {principal}, Zinsen 312,63 €, Kosten 224,50 €). Dem Vergleichsvorschlag stimmen wir zu.\n\n"
    "Mit freundlichen Grüßen\nCreditreform Inkasso Süd GmbH & Co. KG\n"
)
DEBTORS = ("Herrn Jürgen Weiß", "Frau Anna Schäfer", "Herrn Stefan Köhler", "Frau Gülay Öztürk", "Herrn Klaus Meier")


def _euros(cents, currency="€"):
    return f"{cents // 100:,}".replace(",", ".") + f",{cents % 100:02d} {currency}"


def statement_pdf(lines):
    """A one-page PDF whose content stream shows `lines` (Latin-1 text), as a creditor's statement."""
    shown = " 0 -20 Td ".join(
        "({}) Tj".format(line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")) for line in lines
    )
    stream = f"BT /F1 11 Tf 60 780 Td {shown} ET".encode("latin-1")
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >> endobj\n"
        + f"4 0 obj << /Length {len(stream)} >> stream\n".encode() + stream + b"\nendstream endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def soak_message(n, *, with_pdf):
    """A creditor's answer in German with its own facts, every fourth with a PDF statement attached."""
    principal = 150_000 + n * 137 % 400_000
    total = principal + 31_263 + 22_450
    message = EmailMessage()
    message["From"] = "Creditreform Inkasso Süd <forderungen@creditreform-sued.example>"
    message["To"] = "vergleich@schuldnerberatung.example"
    message["Subject"] = f"Ihr Vergleichsangebot – Az. INK-2026-{n:07d}"
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = f"<soak-{n}-{os.getpid()}@creditreform-sued.example>"
    debtor = DEBTORS[n % len(DEBTORS)]
    message.set_content(BODY.format(n=n, debtor=debtor, total=_euros(total), principal=_euros(principal)))
    if with_pdf:
        pdf = statement_pdf([
            "Forderungsaufstellung vom 05.11.2026", f"Schuldner: {debtor.split(' ', 1)[1]}  Az.: INK-2026-{n:07d}",
            f"Hauptforderung {_euros(principal, 'EUR')}  Zinsen 312,63 EUR  Kosten 224,50 EUR",
            f"Gesamt {_euros(total, 'EUR')}",
        ])
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"Forderungsaufstellung-{n}.pdf")
    return message.as_bytes()


@dataclass
class SoakReport:
    emails: int
    clusters: int
    broker: str
    database: str
    seconds: float
    requests: int
    statuses: Counter
    failure_reasons: Counter
    lost: list
    processed_twice: list
    served: Counter = field(default_factory=Counter)

    @property
    def processed(self):
        return sum(count for status, count in self.statuses.items() if status != "failed")

    @property
    def failed(self):
        return self.statuses.get("failed", 0)


def run_soak(*, emails, clusters, fault_rate, max_seconds, log_dir, redis_url=None, seed=1, progress=None):
    """Process `emails` e-mails with `clusters` qcluster processes against a flaky fake API; a SoakReport.

    Runs on the database Django uses now (a throw-away one: see main). Stops by itself: when every
    e-mail is in a final state, or after `max_seconds` (what is left then is lost).
    """
    from devtools.clusters import cluster_env, enqueueing_for, flush_queue, running_clusters
    from devtools.fake_api import FakeAnthropicServer, FlakyMessagesAPI
    from extraction.models import IncomingEmail
    from extraction.services import ingest_message

    final = (IncomingEmail.Status.CLASSIFIED, IncomingEmail.Status.EXTRACTED, IncomingEmail.Status.MANUAL_REVIEW,
             IncomingEmail.Status.FAILED)
    api = FlakyMessagesAPI(fault_rate=fault_rate, seed=seed, timeout_delay=1.0)
    with FakeAnthropicServer(api) as server:
        env = cluster_env(
            name=f"soak-{os.getpid()}", api_url=server.url, redis_url=redis_url,
            ANTHROPIC_TIMEOUT_SECONDS=0.5, ANTHROPIC_MAX_RETRIES=2, LOG_LEVEL="WARNING",
        )
        if redis_url:
            flush_queue(env)
        with enqueueing_for(env):
            ids = [ingest_message(soak_message(n, with_pdf=n % 4 == 0)).pk for n in range(emails)]
        started = time.monotonic()
        with running_clusters([env] * clusters, log_dir, graceful=True):
            while time.monotonic() - started < max_seconds:
                waiting = IncomingEmail.objects.filter(pk__in=ids).exclude(status__in=final).count()
                if progress:
                    progress(emails - waiting, emails)
                if not waiting:
                    break
                time.sleep(1)
        seconds = time.monotonic() - started
        if redis_url:
            flush_queue(env)
        return _report(ids, final=final, env=env, clusters=clusters, seconds=seconds, server=server, api=api)


def _report(ids, *, final, env, clusters, seconds, server, api):
    from django.db import connection
    from django.db.models import Count

    from extraction.models import ExtractionResult, IncomingEmail

    rows = IncomingEmail.objects.filter(pk__in=ids)
    statuses = Counter(rows.values_list("status", flat=True))
    # "classify: Anthropic API error 529 (OverloadedError): ..." -> "classify: Anthropic API error 529"
    reasons = Counter(
        error.split(" (")[0].split(": the answer")[0][:90]
        for error in rows.filter(status=IncomingEmail.Status.FAILED).values_list("error", flat=True)
    )
    # One result set per e-mail: body + merged (+ one per PDF); more than one run shows as attempts > 1.
    results = dict(ExtractionResult.objects.filter(email__in=ids).values_list("email").annotate(n=Count("pk")))
    processed_twice = [
        pk for pk, attempts in rows.values_list("pk", "attempts") if attempts > 1 or results.get(pk, 0) > 3
    ]
    return SoakReport(
        emails=len(ids), clusters=clusters, broker="redis" if env.get("Q_REDIS_URL") else "orm",
        database=connection.vendor, seconds=seconds, requests=len(server.requests), statuses=statuses,
        failure_reasons=reasons, lost=list(rows.exclude(status__in=final).values_list("pk", flat=True)),
        processed_twice=processed_twice, served=api.served,
    )


def print_report(report, out=sys.stdout):
    def line(text):
        print(text, file=out, flush=True)

    line(f"{report.emails} e-mails, {report.clusters} cluster(s), {report.broker} broker, {report.database}, "
         f"{report.seconds:.1f} s ({report.emails / report.seconds:.1f} e-mails/s), {report.requests} API requests")
    line(f"  API faults served:  {dict(report.served.most_common())}")
    line(f"  processed:          {report.processed} {dict(report.statuses.most_common())}")
    line(f"  failed with reason: {report.failed}")
    for reason, count in report.failure_reasons.most_common():
        line(f"    {count:5d}  {reason}")
    line(f"  ran more than once: {len(report.processed_twice)}")
    line(f"  lost:               {len(report.lost)}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devtools.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=1000, help="E-mails to process (default 1000).")
    parser.add_argument(
        "--clusters", type=int, default=None,
        help="qcluster processes (default 3 on PostgreSQL, 1 on SQLite, where several are unsafe).",
    )
    parser.add_argument("--fault-rate", type=float, default=0.2, help="Share of API calls that fail (0..1).")
    parser.add_argument("--max-seconds", type=int, default=600, help="Stop after this long (default 600).")
    parser.add_argument(
        "--redis", metavar="URL", default=None,
        help="Use the Redis broker at URL (e.g. redis://127.0.0.1:6379/5; its soak queue is emptied).",
    )
    args = parser.parse_args(argv)
    server_url = databases.configured_database_url()
    postgres = databases.is_postgres(server_url)
    clusters = args.clusters or (3 if postgres else 1)
    if not postgres and clusters > 1:
        parser.error("several clusters on SQLite are unsafe; use PostgreSQL (DATABASE_URL) or --clusters 1")
    if not (args.emails > 0 and 0 <= args.fault_rate <= 1 and args.max_seconds > 0):
        parser.error("--emails and --max-seconds must be positive, --fault-rate between 0 and 1")

    shown = []

    def progress(done, total):
        if not shown or done - shown[-1] >= total / 10 or done == total:
            shown.append(done)
            print(f"  {done}/{total} e-mails in a final state", flush=True)

    with databases.django_on_throwaway_database(prefix="soak", server_url=server_url if postgres else None) as db:
        # One INFO line per queued e-mail would drown the report; the clusters log to their own files.
        logging.getLogger("django-q").setLevel(logging.WARNING)
        print(f"Soak: {args.emails} e-mails, {clusters} cluster(s), {args.fault_rate:.0%} faulty API calls ...",
              flush=True)
        report = run_soak(
            emails=args.emails, clusters=clusters, fault_rate=args.fault_rate, max_seconds=args.max_seconds,
            log_dir=db.directory, redis_url=args.redis, progress=progress,
        )
    print_report(report)
    if report.lost or report.processed_twice:
        sys.exit(f"{len(report.lost)} e-mail(s) lost, {len(report.processed_twice)} processed more than once.")


if __name__ == "__main__":
    main()
