"""Metric rows keep the e-mail's id as a plain indexed column instead of a foreign key to it.

`metrics` is a leaf app and must not depend on `extraction`. The column `email_id`, its values and its
index stay as they are; only the FOREIGN KEY constraint is dropped (on PostgreSQL a catalogue change,
not a rewrite of a table with millions of rows).
"""

import django.db.models.deletion
from django.db import migrations, models

EMAIL_ID_HELP = "Id of the e-mail the row was recorded for (a plain id: metrics does not depend on e-mails)."
RAW_MODELS = ("promptperformancemetrics", "operationalmetrics")


def plain_email_id(model_name):
    return migrations.SeparateDatabaseAndState(
        database_operations=[
            # The same column and index, without the constraint.
            migrations.AlterField(
                model_name=model_name,
                name="email",
                field=models.ForeignKey(
                    blank=True, null=True, db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING,
                    related_name="+", to="extraction.incomingemail",
                ),
            ),
        ],
        state_operations=[
            migrations.RemoveField(model_name=model_name, name="email"),
            migrations.AddField(
                model_name=model_name,
                name="email_id",
                field=models.BigIntegerField(blank=True, db_index=True, help_text=EMAIL_ID_HELP, null=True),
            ),
        ],
    )


def forget_ids_of_missing_emails(apps, schema_editor):
    """Reverse only: the foreign key about to be restored refuses ids of e-mails that no longer exist."""
    emails = apps.get_model("extraction", "IncomingEmail").objects.values("pk")
    for model_name in RAW_MODELS:
        rows = apps.get_model("metrics", model_name).objects.exclude(email_id=None)
        rows.exclude(email_id__in=emails).update(email_id=None)


class Migration(migrations.Migration):

    dependencies = [
        ("metrics", "0001_initial"),
    ]

    operations = [
        *(plain_email_id(model_name) for model_name in RAW_MODELS),
        # Listed last so that, reversed, it runs first.
        migrations.RunPython(migrations.RunPython.noop, forget_ids_of_missing_emails),
    ]
