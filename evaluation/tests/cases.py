"""Test material for experiments: creditor statements whose facts differ per e-mail, processed by the
production pipeline against the fake model and reviewed (the operator confirms the merged result).
"""

import uuid
from decimal import Decimal

from django.contrib.auth import get_user_model

from extraction import tasks
from extraction.models import IncomingEmail
from extraction.review import merged_answer
from extraction.services import email_review, ingest_message

FIRST_NAMES = ("Jürgen", "Gülay", "Thomas", "Erika", "Klaus", "Sabine", "Mehmet", "Anna", "Paul", "Ingrid", "Lukas")
LAST_NAMES = ("Weiß", "Öztürk", "Becker", "Schmidt", "Meier", "Hoffmann", "Yilmaz", "Wagner", "Fischer", "Krüger")
CREDITORS = ("Otto Payment Solutions GmbH", "Creditreform Inkasso Süd GmbH", "EOS Forderungsmanagement AG",
             "Stadtwerke Nordhausen GmbH", "Brandt Inkasso KG")


def german(amount):
    """1234.5 -> '1.234,50'."""
    whole, cents = f"{amount:.2f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + cents


def statement(n):
    """Raw bytes of creditor statement number `n`: its own debtor, amounts, date, reference and creditor."""
    principal = Decimal(1000 + 97 * n) + Decimal(n % 100) / 100
    interest, costs = Decimal(30 + 7 * n) + Decimal("0.33"), Decimal(40 + 3 * (n % 17)) + Decimal("0.95")
    debtor = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[(n // 2) % len(LAST_NAMES)]}"
    creditor = CREDITORS[n % len(CREDITORS)]
    body = (
        "Sehr geehrte Damen und Herren,\n\n"
        f"in der Angelegenheit Ihrer Mandantin Frau {debtor} übersenden wir die\n"
        f"Forderungsaufstellung zum {1 + n % 28:02d}.{1 + n % 12:02d}.2026:\n\n"
        f"Hauptforderung:      {german(principal)} EUR\n"
        f"Zinsen:      {german(interest)} EUR\n"
        f"Mahnkosten:      {german(costs)} EUR\n"
        "-----------------------------------------\n"
        f"Gesamtforderung:     {german(principal + interest + costs)} EUR\n\n"
        f"Aktenzeichen: AZ-{2026_00000 + n}\n\n"
        "Mit freundlichen Grüßen\n"
        f"{creditor}\n"
    )
    headers = (
        f"From: {creditor} <forderung{n}@inkasso.example>\r\nTo: beratung@example.org\r\n"
        f"Subject: Forderungsaufstellung Nr. {n}\r\nMessage-ID: <eval-{n}-{uuid.uuid4()}@test>\r\n"
        "Date: Mon, 16 Nov 2026 09:30:00 +0100\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return (headers + body.replace("\n", "\r\n")).encode("utf-8")


def operator(username="rita"):
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True})
    return user


def reviewed_email(raw, *, reviewer=None):
    """Ingest `raw`, process it with the active versions (the fake model answers) and confirm the merged result."""
    email = ingest_message(raw)
    tasks.process_email(email.pk)
    email = IncomingEmail.objects.get(pk=email.pk)
    answer = merged_answer(email)
    email_review(email=email, reviewed_by=reviewer or operator(), intent=answer["intent"], facts=answer["facts"])
    return IncomingEmail.objects.get(pk=email.pk)


def reviewed_statements(count, *, start=0):
    return [reviewed_email(statement(n)) for n in range(start, start + count)]
