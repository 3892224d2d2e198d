"""Seed version 1 of the four prompts the pipeline needs, active, as `system_migration`.

The texts are frozen here on purpose: later edits happen as new versions in the admin, never by
changing this migration. Idempotent (an existing v1 is left alone) and reversible.
"""

from django.db import migrations

SEEDED_BY = "system_migration"

INTENT_SCHEMA = {
    "type": "object",
    "properties": {
        "intent": {
            "type": "string",
            "enum": ["debt_statement", "payment_plan", "rejection", "inquiry", "auto_reply", "spam"],
        },
        "confidence": {"type": "number"},
    },
    "required": ["intent", "confidence"],
    "additionalProperties": False,
}

_NULLABLE_STRING = {"type": ["string", "null"]}

EXTRACTION_SCHEMA = {
    "type": "object",
    "properties": {
        "creditor_name": _NULLABLE_STRING,
        "creditor_reference": _NULLABLE_STRING,
        "debtor_name": _NULLABLE_STRING,
        "total_claim": _NULLABLE_STRING,
        "principal": _NULLABLE_STRING,
        "interest": _NULLABLE_STRING,
        "costs": _NULLABLE_STRING,
        "statement_date": _NULLABLE_STRING,
        "accepts_plan": {"type": ["boolean", "null"]},
        "confidence": {"type": "number"},
    },
    "required": [
        "creditor_name", "creditor_reference", "debtor_name", "total_claim", "principal",
        "interest", "costs", "statement_date", "accepts_plan", "confidence",
    ],
    "additionalProperties": False,
}

_JSON_FIELDS = """\
{
  "creditor_name": "Name des Gläubigers oder Inkassobüros",
  "creditor_reference": "Aktenzeichen / Geschäftszeichen des Gläubigers",
  "debtor_name": "Name des Schuldners (unser Mandant)",
  "total_claim": "Gesamtforderung in EUR, wie im Text geschrieben (z. B. \\"1.234,56 €\\")",
  "principal": "Hauptforderung in EUR oder null",
  "interest": "Zinsen in EUR oder null",
  "costs": "Kosten (Mahn-, Inkasso-, Gerichtskosten) in EUR oder null",
  "statement_date": "Datum der Forderungsaufstellung (TT.MM.JJJJ) oder null",
  "accepts_plan": true | false | null,
  "confidence": 0.0-1.0
}"""

EXTRACTION_RULES = """\
Regeln:
- Übernimm Beträge und Daten genau so, wie sie im Dokument stehen; rechne nichts um.
- Fehlt eine Angabe, setze null. Erfinde keine Werte.
- accepts_plan ist true, wenn der Gläubiger dem vorgeschlagenen Vergleich/Zahlungsplan zustimmt,
  false bei Ablehnung und null, wenn sich das Schreiben dazu nicht äußert.
- confidence ist deine Sicherheit für die Extraktion insgesamt (0.0 bis 1.0).
Antworte ausschließlich mit JSON in diesem Format:
""" + _JSON_FIELDS

PROMPTS = [
    {
        "task_type": "classification",
        "name": "email_intent",
        "system_prompt": "",
        "user_prompt_template": """\
Klassifiziere die E-Mail-Intent in eine der folgenden Kategorien:

1. debt_statement - Gläubigerantwort mit Forderungsbetrag oder Schuldenstatus
2. payment_plan - Zahlungsplan-Vorschlag oder Bestätigung
3. rejection - Ablehnung oder Widerspruch der Forderung
4. inquiry - Frage die manuelle Antwort erfordert
5. auto_reply - Abwesenheitsnotiz oder automatische Antwort
6. spam - Marketing, unrelated content

E-Mail:
Betreff: {{ subject }}
Text: {{ truncated_body }}

Antworte nur mit JSON:
{"intent": "debt_statement|payment_plan|rejection|inquiry|auto_reply|spam", "confidence": 0.0-1.0}""",
        "model_name": "claude-haiku-4-5-20251001",
        "temperature": 0.0,
        "max_tokens": 100,
        "output_schema": INTENT_SCHEMA,
        "variables": ["subject", "truncated_body"],
    },
    {
        "task_type": "extraction",
        "name": "email_body",
        "system_prompt": """\
Du bist ein sorgfältiger Assistent einer Schuldnerberatung. Du liest Antworten von Gläubigern
auf Vergleichs- und Zahlungsplanangebote und extrahierst die Fakten daraus. Du antwortest
ausschließlich mit gültigem JSON, ohne Erklärungen.""",
        "user_prompt_template": """\
Extrahiere die Forderungsdaten aus dieser Gläubiger-E-Mail.

Absender: {{ sender }}
Betreff: {{ subject }}
Text:
{{ body }}

""" + EXTRACTION_RULES,
        "model_name": "claude-sonnet-4-6",
        "temperature": 0.0,
        "max_tokens": 1024,
        "output_schema": EXTRACTION_SCHEMA,
        "variables": ["body", "sender", "subject"],
    },
    {
        "task_type": "extraction",
        "name": "pdf_scanned",
        "system_prompt": "",
        "user_prompt_template": """\
Das angehängte PDF ist ein Schreiben eines Gläubigers an eine Schuldnerberatung (oft eine
Forderungsaufstellung oder eine Antwort auf ein Vergleichsangebot, möglicherweise gescannt).
Extrahiere die Forderungsdaten.

""" + EXTRACTION_RULES,
        "model_name": "claude-sonnet-4-6",
        "temperature": 0.0,
        "max_tokens": 2048,
        "output_schema": EXTRACTION_SCHEMA,
        "variables": [],
    },
    {
        "task_type": "extraction",
        "name": "image",
        "system_prompt": "",
        "user_prompt_template": """\
Das Bild zeigt ein fotografiertes oder gescanntes Schreiben eines Gläubigers an eine
Schuldnerberatung. Lies den Text sorgfältig (auch schräg fotografierte oder unscharfe Stellen)
und extrahiere die Forderungsdaten.

""" + EXTRACTION_RULES,
        "model_name": "claude-sonnet-4-6",
        "temperature": 0.0,
        "max_tokens": 2048,
        "output_schema": EXTRACTION_SCHEMA,
        "variables": [],
    },
]


def seed_prompts(apps, schema_editor):
    PromptTemplate = apps.get_model("prompts", "PromptTemplate")
    PromptActivation = apps.get_model("prompts", "PromptActivation")
    for spec in PROMPTS:
        key = {"task_type": spec["task_type"], "name": spec["name"]}
        fields = {k: v for k, v in spec.items() if k not in key}
        template, created = PromptTemplate.objects.get_or_create(
            **key, version=1,
            defaults={**fields, "created_by": SEEDED_BY, "description": "Initial version, seeded by migration."},
        )
        if created and not PromptTemplate.objects.filter(**key, is_active=True).exists():
            PromptTemplate.objects.filter(pk=template.pk).update(is_active=True)
            PromptActivation.objects.create(**key, to_version=template, kind="seed", activated_by=SEEDED_BY)


def unseed_prompts(apps, schema_editor):
    PromptTemplate = apps.get_model("prompts", "PromptTemplate")
    PromptActivation = apps.get_model("prompts", "PromptActivation")
    for spec in PROMPTS:
        seeded = PromptTemplate.objects.filter(
            task_type=spec["task_type"], name=spec["name"], version=1, created_by=SEEDED_BY
        )
        PromptActivation.objects.filter(to_version__in=seeded, kind="seed").delete()
        seeded.delete()


class Migration(migrations.Migration):
    dependencies = [("prompts", "0001_initial")]

    operations = [migrations.RunPython(seed_prompts, unseed_prompts)]
