"""A set as a folder, and back: one `.eml` file per case plus `expected.json` with each case's expected values.

Export rebuilds each e-mail as MIME from what was stored (headers, text and HTML bodies, the stored
attachments): the product keeps no raw copy. Import goes through the normal ingestion (`ingest_message`: a
Message-ID already here is the stored e-mail), records the expected values as the e-mail's review (through
`email_review`, by the importing operator) and adds the cases marked `imported`. An imported e-mail is taken
out of the queue at once (the worker skips an e-mail that is no longer waiting), so it is reviewed, not processed.
"""

import json
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext

from evaluation import expected
from evaluation.errors import EvaluationError
from evaluation.models import EvaluationSet
from evaluation.sets import evaluation_set_add
from extraction.models import IncomingEmail
from extraction.scoring import REVIEW_FIELDS
from extraction.services import email_review, ingest_message

EXPECTED_FILE = "expected.json"
FORMAT = "creditor-mail evaluation set 1"


def evaluation_set_export(*, evaluation_set, folder):
    """Write the set to `folder` (created; must be empty); returns the number of cases written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise EvaluationError(gettext("%(folder)s is not empty; export into a new folder.") % {"folder": folder})
    cases = []
    for number, case in enumerate(evaluation_set.cases.select_related("email").order_by("pk"), start=1):
        name = f"{number:04d}.eml"
        (folder / name).write_bytes(email_as_mime(case.email))
        cases.append({"file": name, "message_id": case.email.message_id, "intent": case.expected_intent,
                      "facts": case.expected_facts})
    document = {"format": FORMAT, "name": evaluation_set.name, "description": evaluation_set.description,
                "cases": cases}
    (folder / EXPECTED_FILE).write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return len(cases)


def email_as_mime(email):
    """The stored e-mail as MIME bytes (its Message-ID kept, so importing it here again finds it)."""
    message = EmailMessage()
    message["From"] = email.sender
    message["To"] = "evaluation@localhost"
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id if email.message_id.startswith("<") else f"<{email.message_id}>"
    if email.received_at:
        message["Date"] = format_datetime(email.received_at)
    message.set_content(email.body_text or "")
    if email.body_html:
        message.add_alternative(email.body_html, subtype="html")
    for attachment in email.attachments.exclude(file="").order_by("pk"):
        maintype, _, subtype = attachment.content_type.partition("/")
        with attachment.file.open("rb") as handle:
            message.add_attachment(handle.read(), maintype=maintype, subtype=subtype or "octet-stream",
                                   filename=attachment.original_name)
    return message.as_bytes()


def evaluation_set_import(*, folder, reviewed_by, name=None):
    """Create a set from an exported folder; returns it. Every file is checked before anything is stored."""
    folder = Path(folder)
    try:
        document = json.loads((folder / EXPECTED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvaluationError(
            gettext("%(file)s cannot be read: %(error)s") % {"file": folder / EXPECTED_FILE, "error": exc}
        ) from exc
    if document.get("format") != FORMAT:
        raise EvaluationError(gettext("%(file)s is not an exported evaluation set (%(format)s).") % {
            "file": folder / EXPECTED_FILE, "format": FORMAT})
    name = name or document["name"]
    if EvaluationSet.objects.filter(name=name).exists():
        raise EvaluationError(gettext(
            "An evaluation set named “%(name)s” exists already; import it with another name."
        ) % {"name": name})
    entries = []
    for entry in document["cases"]:
        path = folder / Path(entry["file"]).name  # never outside the folder
        if not path.is_file():
            raise EvaluationError(
                gettext("%(path)s is listed in %(file)s but missing.") % {"path": path, "file": EXPECTED_FILE}
            )
        entries.append((path.read_bytes(), entry["intent"], expected.facts_from_json(entry["facts"])))
    emails = [_imported_email(raw, intent=intent, facts=facts, reviewed_by=reviewed_by)
              for raw, intent, facts in entries]
    with transaction.atomic():
        evaluation_set = EvaluationSet.objects.create(
            name=name, description=document.get("description", ""), created_by=reviewed_by.get_username()
        )
        evaluation_set_add(evaluation_set=evaluation_set, emails=emails, added_by=reviewed_by, imported=True)
    return evaluation_set


def _imported_email(raw, *, intent, facts, reviewed_by):
    email = ingest_message(raw)  # its own transaction (files); a known Message-ID is the stored e-mail
    if email.is_duplicate and hasattr(email, "review"):
        return email  # reviewed here already: its own review stands, and the snapshot is taken from it
    with transaction.atomic():
        # Taken from the queue before the worker claims it: an imported case is reviewed, not processed.
        waiting = (IncomingEmail.Status.RECEIVED, IncomingEmail.Status.QUEUED)
        IncomingEmail.objects.filter(pk=email.pk, status__in=waiting).update(
            status=IncomingEmail.Status.MANUAL_REVIEW, review_reason="imported with an evaluation set"
        )
        email_review(email=email, reviewed_by=reviewed_by, intent=intent,
                     facts={field: facts.get(field) for field in REVIEW_FIELDS}, note="imported with an evaluation set")
    return IncomingEmail.objects.get(pk=email.pk)
