"""Indexes that keep the e-mail admin fast at a million e-mails (issue 17).

B-tree indexes for the list's ordering and each filter (both databases). On PostgreSQL, also the
pg_trgm extension and trigram indexes for the search on sender and subject, built CONCURRENTLY so an
installation with years of mail keeps ingesting while they build (hence a non-atomic migration).
Django's case-insensitive search compares UPPER(column) LIKE UPPER('%term%'): the indexes are on
exactly that expression. SQLite has no trigram indexes; its search scans (SQLite installations are small).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

TRIGRAM_INDEXES = {
    "email_sender_trgm_idx": "UPPER(sender)",
    "email_subject_trgm_idx": "UPPER(subject)",
}


class PostgreSQLOnly(migrations.RunSQL):
    """RunSQL that does nothing on other databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class PostgreSQLTrigramExtension(TrigramExtension):
    """TrigramExtension whose reverse, too, does nothing on other databases (Django 5.2 checks only forwards)."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("extraction", "0005_rename_confidence_lowest_confidence"),
    ]

    operations = [
        # The status index gains the id, so the ids of a deep page come from the index alone.
        migrations.RemoveIndex(model_name="incomingemail", name="email_status_created_idx"),
        migrations.AddIndex(
            model_name="incomingemail",
            index=models.Index(fields=["status", "-created_at", "-id"], name="email_status_created_idx"),
        ),
        migrations.AddIndex(
            model_name="incomingemail",
            index=models.Index(fields=["intent", "-created_at", "-id"], name="email_intent_created_idx"),
        ),
        migrations.AddIndex(
            model_name="incomingemail",
            index=models.Index(fields=["-created_at", "-id", "lowest_confidence"], name="email_created_idx"),
        ),
        migrations.AddIndex(
            model_name="emailattachment",
            index=models.Index(fields=["email", "id"], name="attachment_email_id_idx"),
        ),
        PostgreSQLTrigramExtension(),
        *(
            PostgreSQLOnly(
                sql=f"CREATE INDEX CONCURRENTLY {name} ON extraction_incomingemail USING gin ({expression} gin_trgm_ops)",
                reverse_sql=f"DROP INDEX CONCURRENTLY {name}",
            )
            for name, expression in TRIGRAM_INDEXES.items()
        ),
    ]
