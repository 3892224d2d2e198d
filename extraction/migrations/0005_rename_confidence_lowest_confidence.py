from django.db import migrations, models


class Migration(migrations.Migration):
    """IncomingEmail.confidence becomes lowest_confidence, so it is never mistaken for intent_confidence.

    A rename: every stored value stays.
    """

    dependencies = [
        ("extraction", "0004_intent_choices"),
    ]

    operations = [
        migrations.RenameField(model_name="incomingemail", old_name="confidence", new_name="lowest_confidence"),
        migrations.AlterField(
            model_name="incomingemail",
            name="lowest_confidence",
            field=models.FloatField(
                blank=True, null=True,
                help_text="The lowest confidence of the e-mail's usable answers (intent and each source), 0..1: "
                          "below the review threshold it needs a human.",
            ),
        ),
    ]
