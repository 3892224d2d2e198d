"""Creditor e-mails as they arrive, what the pipeline learns from them, and what an operator confirmed."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Intent(models.TextChoices):
    """What kind of answer a creditor's e-mail is; the classification prompt's schema lists these values."""

    DEBT_STATEMENT = "debt_statement", _("Debt statement")
    PAYMENT_PLAN = "payment_plan", _("Payment plan")
    REJECTION = "rejection", _("Rejection")
    INQUIRY = "inquiry", _("Inquiry")
    AUTO_REPLY = "auto_reply", _("Auto-reply")
    SPAM = "spam", _("Spam")


# Answers that carry facts worth extracting; the others are only classified.
FACT_BEARING_INTENTS = frozenset({Intent.DEBT_STATEMENT, Intent.PAYMENT_PLAN, Intent.REJECTION})


class IncomingEmailManager(models.Manager):
    def get_by_natural_key(self, message_id):
        return self.get(message_id=message_id)


class IncomingEmail(models.Model):
    """One creditor e-mail, from ingestion through classification and extraction."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        CLASSIFIED = "classified", _("Classified")
        EXTRACTED = "extracted", _("Extracted")
        MANUAL_REVIEW = "manual_review", _("Manual review")
        FAILED = "failed", _("Failed")
        REVIEWED = "reviewed", _("Reviewed")

    message_id = models.CharField(
        _("message ID"), max_length=998, unique=True, help_text=_("Message-ID header, or a hash of the raw message.")
    )
    sender = models.CharField(_("sender"), max_length=998)
    subject = models.TextField(_("subject"), blank=True)
    body_text = models.TextField(
        _("body text"), blank=True, help_text=_("Plain-text body (derived from HTML when only HTML exists)."),
    )
    body_html = models.TextField(_("body HTML"), blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RECEIVED)
    intent = models.CharField(_("intent"), max_length=40, blank=True, choices=Intent.choices)
    lowest_confidence = models.FloatField(
        _("lowest confidence"), null=True, blank=True,
        help_text=_("The lowest confidence of the e-mail's usable answers (intent and each source), 0..1: "
                    "below the review threshold it needs a human."),
    )
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    intent_confidence = models.FloatField(
        _("intent confidence"), null=True, blank=True, help_text=_("The classifier's confidence in the intent (0..1).")
    )
    review_reason = models.TextField(
        _("review reason"), blank=True, help_text=_("Why the e-mail needs a human, when it does."),
    )
    processing_started_at = models.DateTimeField(
        _("processing started at"), null=True, blank=True,
        help_text=_("When the current or last processing run claimed the e-mail."),
    )
    review_sample = models.BooleanField(
        _("review sample"), default=False,
        help_text=_("Drawn for the review queue's QA sample when it finished automatically (REVIEW_SAMPLE_RATE)."),
    )
    # Raw metric rows are deleted after their retention, so the review reads the version from here.
    intent_prompt_version = models.ForeignKey(
        "prompts.PromptTemplate", verbose_name=_("intent prompt version"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
        help_text=_("The classification version that gave the intent."),
    )
    # The review queue's claim (extraction.review_claims): the operator who has the e-mail open in the
    # workstation holds it until review_claimed_at + REVIEW_CLAIM_MINUTES; "next in queue" passes it by.
    review_claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("review claimed by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # the partial index below: only the few claimed e-mails are in it
        help_text=_("The operator who last opened the e-mail in the review workstation."),
    )
    review_claimed_at = models.DateTimeField(
        _("review claimed at"), null=True, blank=True,
        help_text=_("When that operator opened it (the claim lapses REVIEW_CLAIM_MINUTES later)."),
    )

    objects = IncomingEmailManager()

    class Meta:
        verbose_name = _("incoming email")
        verbose_name_plural = _("incoming emails")
        ordering = ["-created_at"]
        indexes = [
            # The e-mail admin at a million rows (issue 17): its ordering, each list filter with that
            # ordering, and today's e-mails on the index page. With the id (and the confidence) in the
            # index, finding the ids of page 400 reads the index only. Search: trigram indexes in 0006.
            models.Index(fields=["status", "-created_at", "-id"], name="email_status_created_idx"),
            models.Index(fields=["intent", "-created_at", "-id"], name="email_intent_created_idx"),
            models.Index(fields=["-created_at", "-id", "lowest_confidence"], name="email_created_idx"),
            # The review queue's QA sample, oldest first: a small partial index (5 % of finished e-mails).
            models.Index(
                fields=["created_at", "id"], name="email_review_sample_idx",
                condition=Q(review_sample=True, status__in=["extracted", "classified"]),
            ),
            # Deleting a user clears their claims: a handful of rows, found without reading the table.
            models.Index(
                fields=["review_claimed_by"], name="email_review_claimed_by_idx",
                condition=Q(review_claimed_by__isnull=False),
            ),
            # The admin index lists the most recently failed e-mails: only failed rows, so it stays small and
            # costs nothing when other e-mails change.
            models.Index(
                fields=["-updated_at", "-id"], name="email_failed_updated_idx", condition=Q(status="failed"),
            ),
        ]
        permissions = [("review_email", _("Can review e-mails"))]

    def __str__(self):
        return f"{self.sender}: {self.subject[:60]}"

    def natural_key(self):
        # Fixtures (the demo) refer to e-mails by Message-ID, so they load beside existing rows.
        return (self.message_id,)


def attachment_path(instance, filename):
    # One folder per e-mail keeps two creditors' "Forderungsaufstellung.pdf" apart.
    return f"attachments/{instance.email_id}/{filename}"


class EmailAttachment(models.Model):
    """A file that came with an e-mail; refused files keep their metadata but no content."""

    email = models.ForeignKey(
        IncomingEmail, verbose_name=_("email"), on_delete=models.CASCADE, related_name="attachments",
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=500, blank=True)
    original_name = models.CharField(
        _("original name"), max_length=255, help_text=_("The sender's file name, sanitised."),
    )
    content_type = models.CharField(_("content type"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"), help_text=_("Bytes."))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    is_inline = models.BooleanField(
        _("is inline"), default=False, help_text=_("Shown inside the HTML body (e.g. a logo)."),
    )
    refused_reason = models.TextField(
        _("refused reason"), blank=True, help_text=_("Why the file was not stored, when it was not."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("email attachment")
        verbose_name_plural = _("email attachments")
        ordering = ["email", "id"]
        # The e-mail page lists an e-mail's attachments a page at a time, in this order.
        indexes = [models.Index(fields=["email", "id"], name="attachment_email_id_idx")]

    def __str__(self):
        return self.original_name


class CreditorFacts(models.Model):
    """The nine facts of a creditor's answer, normalised: what a source or the merge found, or what a review
    confirmed."""

    creditor_name = models.CharField(_("creditor name"), max_length=500, blank=True)
    creditor_reference = models.CharField(
        _("creditor reference"), max_length=255, blank=True, help_text=_("Aktenzeichen / file number."),
    )
    debtor_name = models.CharField(_("debtor name"), max_length=500, blank=True)
    total_claim = models.DecimalField(
        _("total claim"), max_digits=14, decimal_places=2, null=True, blank=True, help_text=_("EUR"),
    )
    principal = models.DecimalField(
        _("principal"), max_digits=14, decimal_places=2, null=True, blank=True, help_text=_("EUR"),
    )
    interest = models.DecimalField(
        _("interest"), max_digits=14, decimal_places=2, null=True, blank=True, help_text=_("EUR"),
    )
    costs = models.DecimalField(_("costs"), max_digits=14, decimal_places=2, null=True, blank=True, help_text=_("EUR"))
    statement_date = models.DateField(_("statement date"), null=True, blank=True)
    accepts_plan = models.BooleanField(_("accepts plan"), null=True, blank=True)

    class Meta:
        abstract = True


class ExtractionResult(CreditorFacts):
    """What one prompt version found in one source of an e-mail, normalised; or the merge of them.

    One row per (e-mail, source, attachment): processing an e-mail again updates its rows.
    """

    class Source(models.TextChoices):
        BODY = "body", _("E-mail body")
        PDF = "pdf", _("PDF attachment")
        IMAGE = "image", _("Image attachment")
        MERGED = "merged", _("Merged result")

    email = models.ForeignKey(IncomingEmail, verbose_name=_("email"), on_delete=models.CASCADE, related_name="results")
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    attachment = models.ForeignKey(
        EmailAttachment, verbose_name=_("attachment"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="results"
    )
    prompt_version = models.ForeignKey(
        "prompts.PromptTemplate", verbose_name=_("prompt version"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="extraction_results",
        help_text=_("Empty for the merged result."),
    )
    raw_response = models.TextField(_("raw response"), blank=True, help_text=_("The model's answer, verbatim."))
    parsed = models.JSONField(_("parsed"), null=True, blank=True, help_text=_("The answer as JSON, when it was valid."))
    success = models.BooleanField(_("success"), default=False)
    error = models.TextField(_("error"), blank=True, help_text=_("Why the answer could not be used."))

    confidence = models.FloatField(_("confidence"), null=True, blank=True)
    unparsed = models.JSONField(
        _("unparsed"), default=dict, blank=True,
        help_text=_("Values that could not be normalised, as the model wrote them."),
    )
    needs_review = models.BooleanField(_("needs review"), default=False)

    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("extraction result")
        verbose_name_plural = _("extraction results")
        ordering = ["email", "source", "id"]
        constraints = [
            # NULLs are distinct in unique indexes, so body/merged rows need their own partial index.
            models.UniqueConstraint(
                fields=["email", "source"], condition=Q(attachment__isnull=True), name="result_one_per_email_source"
            ),
            models.UniqueConstraint(
                fields=["email", "source", "attachment"], condition=Q(attachment__isnull=False),
                name="result_one_per_email_attachment",
            ),
        ]

    def __str__(self):
        label = self.attachment.original_name if self.attachment_id else self.get_source_display()
        # Shown as the heading of each result on the e-mail page.
        return gettext("%(label)s of e-mail %(email_id)s") % {"label": label, "email_id": self.email_id}


class EmailReview(CreditorFacts):
    """What an operator confirmed an e-mail says: the ground truth the model's answers are scored against.

    Stored beside the results, never over them; one per e-mail, replaced (revision + 1) by a re-review.
    """

    email = models.OneToOneField(
        IncomingEmail, verbose_name=_("email"), on_delete=models.CASCADE, related_name="review",
    )
    intent = models.CharField(_("intent"), max_length=40, choices=Intent.choices)
    changed_fields = models.JSONField(
        _("changed fields"), default=list, blank=True,
        help_text=_("Fields the operator changed from the merged result (intent included)."),
    )
    note = models.TextField(_("note"), blank=True)
    # PROTECT: the ground truth keeps who confirmed it; operators who leave are deactivated, not deleted.
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reviewed by"), on_delete=models.PROTECT, related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), default=timezone.now)
    revision = models.PositiveIntegerField(
        _("revision"), default=1, help_text=_("1 for the first review, + 1 for each re-review."),
    )
    scores = models.JSONField(
        _("scores"), default=list, blank=True,
        help_text=_("Per contributing prompt version: fields checked and right, intent checked and right."),
    )

    class Meta:
        verbose_name = _("email review")
        verbose_name_plural = _("email reviews")
        ordering = ["-reviewed_at"]
        constraints = [
            models.CheckConstraint(condition=Q(revision__gte=1), name="email_review_revision_positive"),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gte": 0}),
                    name=f"email_review_{name}_not_negative",
                )
                for name in ("total_claim", "principal", "interest", "costs")
            ),
        ]

    def __str__(self):
        return f"review {self.revision} of e-mail {self.email_id}"


class ModelPrice(models.Model):
    """List price of an Anthropic model from a date on; operators add a row when prices change."""

    model_id = models.CharField(
        _("model ID"), max_length=100, help_text=_("Anthropic model id or alias, e.g. claude-sonnet-4-6."),
    )
    # Whole cents per million tokens make every per-call cost exact in the 8 decimals metrics store.
    input_usd_per_mtok = models.DecimalField(
        _("input USD per MTok"), max_digits=10, decimal_places=2, help_text=_("USD per million input tokens.")
    )
    output_usd_per_mtok = models.DecimalField(
        _("output USD per MTok"), max_digits=10, decimal_places=2, help_text=_("USD per million output tokens.")
    )
    valid_from = models.DateField(_("valid from"), help_text=_("First day this price applies."))

    class Meta:
        verbose_name = _("model price")
        verbose_name_plural = _("model prices")
        ordering = ["model_id", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["model_id", "valid_from"], name="model_price_unique_from"),
            models.CheckConstraint(
                condition=Q(input_usd_per_mtok__gte=0) & Q(output_usd_per_mtok__gte=0), name="model_price_non_negative"
            ),
        ]

    def __str__(self):
        return (
            f"{self.model_id} from {self.valid_from}: "
            f"${self.input_usd_per_mtok}/${self.output_usd_per_mtok} per MTok"
        )


# Intake from the practice's IMAP mailbox (extraction.intake) ------------------------------------

class MailboxState(models.Model):
    """Where the fetching of one IMAP folder stands, its last outcome, and the lease that lets one fetch run."""

    mailbox = models.CharField(
        _("mailbox"), max_length=500, unique=True, help_text=_("user@host:port/folder (never the password).")
    )
    uid_validity = models.BigIntegerField(
        _("UIDVALIDITY"), null=True, blank=True,
        help_text=_("The folder's UIDVALIDITY when last fetched; a change means re-reading it."),
    )
    last_uid = models.BigIntegerField(
        _("last UID"), default=0,
        help_text=_("Every message up to this UID has been ingested or reported as unreadable."),
    )
    unfiled_uids = models.JSONField(
        _("unfiled UIDs"), default=list, blank=True,
        help_text=_("UIDs ingested but not yet moved to the processed folder (or flagged); done on the next fetch."),
    )
    last_success_at = models.DateTimeField(_("last success at"), null=True, blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    last_error = models.TextField(
        _("last error"), blank=True, help_text=_("Why the last failed fetch failed (never the password)."),
    )
    last_counts = models.JSONField(_("last counts"), default=dict, blank=True, help_text=_("What the last fetch did."))
    # A lease rather than a lock held by a process: a killed worker's lease simply runs out.
    lease_token = models.CharField(_("lease token"), max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["mailbox"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")
        permissions = [("upload_email", _("Can upload .eml files in the admin"))]
        constraints = [
            models.CheckConstraint(condition=Q(last_uid__gte=0), name="mailbox_state_last_uid_not_negative"),
            # A lease is a token and an expiry together, or neither.
            models.CheckConstraint(
                condition=Q(lease_token="", lease_expires_at__isnull=True)
                | (~Q(lease_token="") & Q(lease_expires_at__isnull=False)),
                name="mailbox_state_lease_complete",
            ),
        ]

    def __str__(self):
        return self.mailbox

    @property
    def failing(self):
        """The last fetch failed (its error is newer than the last success)."""
        return self.last_error_at is not None and (
            self.last_success_at is None or self.last_error_at > self.last_success_at
        )


class MailboxFailure(models.Model):
    """A message in the mailbox that could not be ingested: it stays there and is reported once."""

    mailbox = models.ForeignKey(
        MailboxState, verbose_name=_("mailbox"), on_delete=models.CASCADE, related_name="failures",
    )
    uid_validity = models.BigIntegerField(_("UIDVALIDITY"))
    uid = models.BigIntegerField(_("UID"), help_text=_("Where the message is in the folder (with this UIDVALIDITY)."))
    sha256 = models.CharField(
        _("SHA-256"), max_length=64, help_text=_("Of the raw message: recognises it after a UIDVALIDITY change.")
    )
    size = models.PositiveBigIntegerField(_("size"), help_text=_("Bytes."))
    sender = models.CharField(_("sender"), max_length=998, blank=True)
    subject = models.TextField(_("subject"), blank=True)
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("unreadable mailbox message")
        verbose_name_plural = _("unreadable mailbox messages")
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "uid_validity", "uid"], name="mailbox_failure_once_per_uid"),
        ]

    def __str__(self):
        return f"UID {self.uid} in {self.mailbox}: {self.reason[:60]}"
