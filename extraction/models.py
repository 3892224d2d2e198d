"""Creditor e-mails as they arrive, and what the pipeline learns from them."""

from django.db import models
from django.utils import timezone


class IncomingEmail(models.Model):
    """One creditor e-mail, from ingestion through classification and extraction."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        CLASSIFIED = "classified", "Classified"
        EXTRACTED = "extracted", "Extracted"
        MANUAL_REVIEW = "manual_review", "Manual review"
        FAILED = "failed", "Failed"

    message_id = models.CharField(
        max_length=998, unique=True, help_text="Message-ID header, or a hash of the raw message."
    )
    sender = models.CharField(max_length=998)
    subject = models.TextField(blank=True)
    body_text = models.TextField(blank=True, help_text="Plain-text body (derived from HTML when only HTML exists).")
    body_html = models.TextField(blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    intent = models.CharField(max_length=40, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="email_status_created_idx"),
        ]

    def __str__(self):
        return f"{self.sender}: {self.subject[:60]}"
