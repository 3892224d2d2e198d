"""Operators' pages with 1M e-mails and 10M raw metric rows on PostgreSQL: server time of each page.

Targets (issue 17): every page under 300 ms, and within 12x of a trivial admin page (the model-price
list) measured in the same run. Each page is requested through Django's test client by a logged-in
superuser: one warm-up request, then the median of REPEAT requests (request handling with template
rendering, in-process). The runner gives it a throw-away database on BENCH_POSTGRES_URL's server.

The data (bench/mail_data.py) is generated in the database: three years of creditor mail with attachments,
results, reviews and 10M raw metric rows, and one hostile e-mail with 10,000 attachments and a 50 MB body.
"""

import time

from django.test.utils import setup_test_environment, teardown_test_environment

from bench.mail_data import generate
from devtools.timing import median_request_seconds

DATABASES = ("postgresql",)
REPEAT = 5
TARGET_SECONDS = 0.3
TARGET_RATIO = 12


def pages(ids):
    """(label, url) of every operator page measured."""
    from django.urls import reverse

    emails = reverse("admin:extraction_incomingemail_changelist")
    detail = "admin:extraction_incomingemail_change"
    return [
        ("admin index", reverse("admin:index")),
        ("e-mail list, page 1", emails),
        ("  status = failed", emails + "?status__exact=failed"),
        ("  status = extracted", emails + "?status__exact=extracted"),
        ("  status = manual review", emails + "?status__exact=manual_review"),
        ("  status = reviewed", emails + "?status__exact=reviewed"),
        ("  intent = payment plan", emails + "?intent__exact=payment_plan"),
        ("  confidence below threshold", emails + "?confidence_band=low"),
        ("  confidence threshold to 0.9", emails + "?confidence_band=medium"),
        ("  confidence 0.9 and above", emails + "?confidence_band=high"),
        ("  confidence none", emails + "?confidence_band=none"),
        ("  page 400", emails + "?p=400"),
        ("  status = extracted, page 400", emails + "?status__exact=extracted&p=400"),
        ("  confidence below threshold, page 400", emails + "?confidence_band=low&p=400"),
        ("  page 2,000 (100,000 e-mails back)", emails + "?p=2000"),
        ("  oldest first", emails + "?o=1"),
        ("  'Show counts' asked for", emails + "?_facets=True"),
        ('  search "Müller 4711"', emails + "?q=M%C3%BCller+4711"),
        ('  search "Inkasso"', emails + "?q=Inkasso"),
        ("  search a Message-ID", emails + f"?q=%3C{ids['typical']}.{_md5_16(ids['typical'])}%40mail.example.de%3E"),
        ("e-mail detail", reverse(detail, args=[ids["typical"]])),
        ("e-mail detail, 10,000 attachments, 50 MB body", reverse(detail, args=[ids["hostile"]])),
        ("e-mail detail, reviewed", reverse(detail, args=[ids["reviewed"]])),
        ("performance, 90 days", reverse("admin:prompt_performance", args=["classification", "email_intent"])
         + "?days=90"),
        ("performance, 30 days", reverse("admin:prompt_performance", args=["classification", "email_intent"])),
        ("operations, 90 days", reverse("admin:operations") + "?days=90"),
    ]


def _md5_16(number):
    import hashlib

    return hashlib.md5(str(number).encode()).hexdigest()[:16]


def time_pages(ids):
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import reverse

    client = Client()
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser("bench", "b@example.org", "b")
    client.force_login(user)
    trivial, _ = median_request_seconds(client, reverse("admin:extraction_modelprice_changelist"), repeat=REPEAT)
    print(f"   {'trivial page (model-price list)':48s} {trivial * 1000:7.1f} ms", flush=True)
    missed = []
    for label, url in pages(ids):
        seconds, response = median_request_seconds(client, url, repeat=REPEAT)
        size = len(response.content)
        ratio = seconds / trivial
        ok = seconds < TARGET_SECONDS and ratio <= TARGET_RATIO
        missed += [] if ok else [label.strip()]
        print(f"   {label:48s} {seconds * 1000:7.1f} ms  {ratio:5.1f}x  {size / 1024:6.0f} KB  "
              f"{'OK' if ok else 'MISSED'}", flush=True)
    print(f"   target: < {TARGET_SECONDS * 1000:.0f} ms and <= {TARGET_RATIO}x the trivial page; "
          f"{'all met' if not missed else 'missed: ' + ', '.join(missed)}")


def main():
    # DEBUG off, as in production: no query log, no template debug information.
    setup_test_environment(debug=False)
    try:
        started = time.perf_counter()
        ids = generate()
        print(f"   data ready in {time.perf_counter() - started:.0f} s", flush=True)
        time_pages(ids)
    finally:
        teardown_test_environment()
