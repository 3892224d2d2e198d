"""The demo data set behind `manage.py loaddata demo`, built deterministically (`manage.py build_demo_fixture`).

Eight weeks of daily metrics up to a fixed END day, German creditor e-mails with results, and a v2 of
classification.email_intent activated four weeks in. Rows are referred to by natural keys (prompt
versions by task type/name/version, e-mails by Message-ID), so the fixture loads beside the seeded v1s.

Two things matter for loading: loaddata saves raw (no model.save()), so derived fields (`variables`,
`labels_key`) are written out here; and the partial unique index "one active version per prompt" is
checked row by row, so v1 is deactivated (listed first) before v2 is listed as active.
"""

import importlib
import json
import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from metrics.aggregates import percentile_cont
from metrics.models import canonical_labels_key
from prompts import rendering

END = date(2026, 11, 20)  # fixed so the file is stable; the pages offer a link to ranges that end here
DAYS = 56
V2_ACTIVATED_ON = END - timedelta(days=27)
SEED = 20261120

_seed_migration = importlib.import_module("prompts.migrations.0002_seed_v1_prompts")
SEEDED = {(spec["task_type"], spec["name"]): spec for spec in _seed_migration.PROMPTS}
INTENT = ("classification", "email_intent")

# USD per million tokens (input, output): whole cents, so every cost is exact in 8 decimals.
PRICES = {"claude-haiku-4-5-20251001": (Decimal("1"), Decimal("5")), "claude-sonnet-4-6": (Decimal("3"), Decimal("15"))}

# Per prompt version: calls per weekday, success rate, review rate, tokens in/out, confidence, latency ms.
PROFILES = {
    (*INTENT, 1): dict(calls=40, success=0.95, review=0.12, tokens=(620, 30), confidence=0.84, ms=900),
    (*INTENT, 2): dict(calls=40, success=0.98, review=0.05, tokens=(760, 30), confidence=0.91, ms=950),
    ("extraction", "email_body", 1): dict(calls=28, success=0.93, review=0.10, tokens=(1900, 260), confidence=0.86,
                                          ms=4200),
    ("extraction", "pdf_scanned", 1): dict(calls=12, success=0.90, review=0.16, tokens=(5200, 280),
                                           confidence=0.81, ms=9800),
    ("extraction", "image", 1): dict(calls=5, success=0.85, review=0.22, tokens=(3100, 270), confidence=0.77,
                                     ms=8700),
}

V2_INTENT_HINT = """

Hinweise:
- Ein Angebot von Raten oder eine Zustimmung zum Zahlungsplan ist payment_plan, auch wenn ein Betrag genannt wird.
- Eine Eingangsbestätigung ohne Inhalt ist auto_reply."""


def _moment(day, hour, minute=0):
    """A local (TIME_ZONE) wall-clock time on `day`, as the UTC string a fixture stores."""
    local = datetime.combine(day, time(hour, minute), tzinfo=timezone.get_default_timezone())
    return local.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _version_key(task_type, name, version):
    return [task_type, name, version]


def prompt_rows():
    """v1 of the intent prompt deactivated (its seeded content unchanged), then v2 active, then the activation."""
    v1 = SEEDED[INTENT]
    content = {key: v1[key] for key in ("system_prompt", "model_name", "temperature", "max_tokens", "output_schema")}
    v1_row = {
        "task_type": INTENT[0], "name": INTENT[1], "version": 1, **content,
        "user_prompt_template": v1["user_prompt_template"], "variables": v1["variables"],
        "is_active": False, "created_by": _seed_migration.SEEDED_BY,
        "description": "Initial version, seeded by migration.", "created_at": _moment(END - timedelta(days=DAYS), 9),
    }
    v2_template = v1["user_prompt_template"].replace("\n\nE-Mail:", V2_INTENT_HINT + "\n\nE-Mail:", 1)
    rendering.check_template(v2_template)
    v2_row = {
        **v1_row, "version": 2, "user_prompt_template": v2_template, "is_active": True, "created_by": "erika",
        "variables": rendering.template_variables(v2_template),
        "description": "Clarifies payment plans with amounts and bare receipts: v1 sent too many to manual review.",
        "created_at": _moment(V2_ACTIVATED_ON - timedelta(days=2), 15, 40),
    }
    activation = {
        "task_type": INTENT[0], "name": INTENT[1], "kind": "activate", "activated_by": "erika",
        "from_version": _version_key(*INTENT, 1), "to_version": _version_key(*INTENT, 2),
        "activated_at": _moment(V2_ACTIVATED_ON, 10, 15),
    }
    return [
        {"model": "prompts.prompttemplate", "fields": v1_row},
        {"model": "prompts.prompttemplate", "fields": v2_row},
        {"model": "prompts.promptactivation", "fields": activation},
    ]


# E-mails: (slug, sender, subject, body, status, intent, confidence, result fields or None, error)
EMAILS = [
    ("forderung-inkasso-nord", "forderungen@inkasso-nord.example", "Ihr Schreiben vom 03.11.2026 – Az. IN-2024-55871",
     "Sehr geehrte Damen und Herren,\nzu Ihrem Vergleichsangebot teilen wir mit, dass die Gesamtforderung "
     "2.487,33 € beträgt (Hauptforderung 1.950,00 €, Zinsen 312,33 €, Kosten 225,00 €), Stand 31.10.2026.\n"
     "Dem Zahlungsplan stimmen wir zu.\nMit freundlichen Grüßen\nInkasso Nord GmbH",
     "extracted", "debt_statement", 0.96,
     dict(creditor_name="Inkasso Nord GmbH", creditor_reference="IN-2024-55871", debtor_name="Jana Becker",
          total_claim="2487.33", principal="1950.00", interest="312.33", costs="225.00",
          statement_date="2026-10-31", accepts_plan=True, confidence=0.95), ""),
    ("ablehnung-stadtwerke", "mahnwesen@stadtwerke-musterstadt.example",
     "Ablehnung Vergleichsvorschlag Kd.-Nr. 4471123",
     "Guten Tag,\nden vorgeschlagenen Vergleich lehnen wir ab. Die offene Forderung von 836,10 EUR ist in voller "
     "Höhe zu begleichen.\nStadtwerke Musterstadt",
     "extracted", "rejection", 0.93,
     dict(creditor_name="Stadtwerke Musterstadt", creditor_reference="4471123", debtor_name="Tobias Wagner",
          total_claim="836.10", accepts_plan=False, confidence=0.91), ""),
    ("ratenplan-telekom", "forderungsmanagement@telefon-ag.example", "Ratenzahlung Vertragskonto 99120034",
     "Sehr geehrte Frau Schulz,\nwir bieten eine Ratenzahlung von monatlich 50,00 € bis zur Tilgung der Forderung "
     "von 1.204,90 € an.\nIhre Telefon AG",
     "extracted", "payment_plan", 0.9,
     dict(creditor_name="Telefon AG", creditor_reference="99120034", debtor_name="Sabine Schulz",
          total_claim="1204.90", accepts_plan=True, confidence=0.88), ""),
    ("versandhaus-saldo", "inkasso@versandhaus.example", "Kontoauszug zu Kundennummer 7781-22",
     "Anbei der aktuelle Saldo: EUR 3.918,47, davon Zinsen 402,11. Stand: 15.11.2026.",
     "extracted", "debt_statement", 0.94,
     dict(creditor_name="Versandhaus Muster KG", creditor_reference="7781-22", debtor_name="Murat Yılmaz",
          total_claim="3918.47", interest="402.11", statement_date="2026-11-15", confidence=0.9), ""),
    ("bank-vergleich", "recovery@beispielbank.example", "Vergleichsangebot – Darlehen 55 0021 889",
     "Wir stimmen dem Vergleich über 60 % der Forderung (Gesamtforderung 12.450,00 €) zu, sofern die Zahlung bis "
     "31.12.2026 erfolgt.\nBeispielbank AG, Abteilung Forderungsmanagement",
     "extracted", "payment_plan", 0.92,
     dict(creditor_name="Beispielbank AG", creditor_reference="55 0021 889", debtor_name="Klaus Richter",
          total_claim="12450.00", accepts_plan=True, confidence=0.9), ""),
    ("unklarer-betrag", "buchhaltung@handwerk-meier.example", "AW: Schuldnerberatung Herr Hoffmann",
     "Hallo,\nder Betrag ist ca. 1.1oo,- plus Mahngebühren, genaue Aufstellung folgt.\nGruß Meier",
     "manual_review", "debt_statement", 0.58,
     dict(creditor_name="Handwerk Meier", debtor_name="Stefan Hoffmann", confidence=0.52,
          unparsed={"total_claim": "ca. 1.1oo,- plus Mahngebühren"}), ""),
    ("rueckfrage-vollmacht", "service@energie-sued.example", "Rückfrage Vollmacht – Zählernummer 0815-4711",
     "Bitte senden Sie uns eine Vollmacht Ihres Mandanten, bevor wir Auskunft erteilen.",
     "manual_review", "inquiry", 0.64, None, ""),
    ("abwesenheit", "m.kraus@kanzlei-kraus.example", "Abwesenheitsnotiz: Ihr Vergleichsangebot",
     "Ich bin bis zum 30.11.2026 nicht im Büro. In dringenden Fällen wenden Sie sich an das Sekretariat.",
     "classified", "auto_reply", 0.99, None, ""),
    ("zeitueberschreitung", "forderungen@moebelhaus.example", "Forderungsaufstellung Auftrag 2023-1187",
     "Sehr geehrte Damen und Herren,\nanbei die Forderungsaufstellung als PDF.",
     "failed", "", None, None, "classify: APITimeoutError: Request timed out after 3 attempts"),
    ("neu-eingegangen", "post@versicherung-west.example", "Ihr Zeichen SB-2026-0415",
     "Wir bestätigen den Eingang Ihres Schreibens und melden uns in Kürze.",
     "queued", "", None, None, ""),
]


def message_id(slug):
    return f"<demo-{slug}@creditor-mail.example>"


def email_rows():
    rows = []
    for n, (slug, sender, subject, body, status, intent, confidence, result, error) in enumerate(EMAILS):
        received = _moment(END - timedelta(days=n % 3), 8 + n, 5 * n % 60)
        rows.append({"model": "extraction.incomingemail", "fields": {
            "message_id": message_id(slug), "sender": sender, "subject": subject, "body_text": body, "body_html": "",
            "received_at": received, "created_at": received, "updated_at": received, "status": status,
            "intent": intent, "lowest_confidence": confidence, "intent_confidence": confidence, "error": error,
            "attempts": 3 if status == "failed" else (0 if status == "queued" else 1), "processing_started_at": None,
            "review_reason": "Confidence below the review threshold." if status == "manual_review" else "",
        }})
        if result is not None:
            fields = {"total_claim": None, "principal": None, "interest": None, "costs": None,
                      "statement_date": None, "accepts_plan": None, "unparsed": {}, **result}
            parsed = {key: value for key, value in fields.items() if key != "unparsed" and value is not None}
            rows.append({"model": "extraction.extractionresult", "fields": {
                "email": [message_id(slug)], "source": "body", "attachment": None,
                "prompt_version": _version_key("extraction", "email_body", 1),
                "raw_response": json.dumps(parsed, ensure_ascii=False), "parsed": parsed,
                "success": not fields["unparsed"],
                "error": "", "needs_review": status == "manual_review",
                "creditor_reference": "", "debtor_name": "", "creditor_name": "",
                "created_at": received, "updated_at": received, **fields,
            }})
    return rows



# Metrics ----------------------------------------------------------------------------------------------------

OPERATION = {"email_intent": "classify", "email_body": "extract_body", "pdf_scanned": "extract_pdf",
             "image": "extract_image"}


def _cost(model_name, input_tokens, output_tokens):
    price_in, price_out = PRICES[model_name]
    return (input_tokens * price_in + output_tokens * price_out) / Decimal(1_000_000)


def _model_of(task_type, name):
    return SEEDED[(task_type, name)]["model_name"]


def _share_on(key, day):
    """Which part of a day's calls a version served: the intent prompt switched v1 -> v2 at 10:15."""
    if key[:2] != INTENT:
        return 1.0
    if day == V2_ACTIVATED_ON:
        return 0.35 if key[2] == 1 else 0.65
    return float((day < V2_ACTIVATED_ON) == (key[2] == 1))


def _daily_row(key, day, rng):
    profile = PROFILES[key]
    weekday_factor = 0.25 if day.weekday() >= 5 else 1.0
    calls = round(profile["calls"] * weekday_factor * _share_on(key, day) * rng.uniform(0.8, 1.2))
    if calls == 0:
        return None
    tokens_in = round(calls * profile["tokens"][0] * rng.uniform(0.9, 1.1))
    tokens_out = round(calls * profile["tokens"][1] * rng.uniform(0.9, 1.1))
    avg_ms = profile["ms"] * rng.uniform(0.9, 1.1)
    return {
        "prompt_version": _version_key(*key), "date": day.isoformat(), "call_count": calls,
        "success_count": min(calls, round(calls * (profile["success"] + rng.uniform(-0.03, 0.02)))),
        "review_count": max(0, round(calls * (profile["review"] + rng.uniform(-0.03, 0.03)))),
        "total_input_tokens": tokens_in, "total_output_tokens": tokens_out,
        "total_cost_usd": str(_cost(_model_of(*key[:2]), tokens_in, tokens_out)),
        "avg_confidence": round(profile["confidence"] + rng.uniform(-0.03, 0.03), 3),
        "avg_execution_time_ms": round(avg_ms, 1), "p95_execution_time_ms": round(avg_ms * rng.uniform(1.6, 2.0), 1),
        "rolled_up_at": _moment(day + timedelta(days=1), 1),
    }


def _raw_calls(key, rng, emails):
    """The END day's calls of one version, one dict per call (what MetricsCollector would have written)."""
    profile = PROFILES[key]
    calls = []
    for n in range(round(profile["calls"] * _share_on(key, END) * 0.5)):
        tokens_in = round(profile["tokens"][0] * rng.uniform(0.8, 1.2))
        tokens_out = round(profile["tokens"][1] * rng.uniform(0.8, 1.2))
        confidence = round(min(1.0, max(0.3, rng.gauss(profile["confidence"], 0.08))), 3)
        calls.append({
            "prompt_version": _version_key(*key), "email_id": None,
            "input_tokens": tokens_in, "output_tokens": tokens_out,
            "cost_usd": str(_cost(_model_of(*key[:2]), tokens_in, tokens_out)),
            "success": rng.random() < profile["success"], "confidence": confidence,
            "needs_review": confidence < 0.7, "execution_time_ms": round(profile["ms"] * rng.uniform(0.6, 1.9)),
            "recorded_at": _moment(END, 7 + n % 11, (7 * n) % 60),
        })
    return calls


def _rollup_of_calls(key, calls):
    """The daily row the nightly rollup computes from these calls (so a re-run of it changes nothing)."""
    times = [call["execution_time_ms"] for call in calls]
    confidences = [call["confidence"] for call in calls if call["confidence"] is not None]
    return {
        "prompt_version": _version_key(*key), "date": END.isoformat(), "call_count": len(calls),
        "success_count": sum(call["success"] for call in calls),
        "review_count": sum(call["needs_review"] for call in calls),
        "total_input_tokens": sum(call["input_tokens"] for call in calls),
        "total_output_tokens": sum(call["output_tokens"] for call in calls),
        "total_cost_usd": str(sum(Decimal(call["cost_usd"]) for call in calls)),
        "avg_confidence": sum(confidences) / len(confidences) if confidences else None,
        "avg_execution_time_ms": sum(times) / len(times), "p95_execution_time_ms": percentile_cont(times, 0.95),
        "rolled_up_at": _moment(END + timedelta(days=1), 1),
    }


def _operational(metric_type, value, labels, recorded_at, email=None):
    return {"metric_type": metric_type, "value": float(value), "labels": labels,
            "labels_key": canonical_labels_key(labels), "email_id": None, "recorded_at": recorded_at}


def _operational_of_calls(key, calls):
    operation = OPERATION[key[1]]
    model = _model_of(*key[:2])
    samples = []
    for call in calls:
        at, email = call["recorded_at"], None
        samples.append(_operational("processing_time_ms", call["execution_time_ms"], {"stage": operation}, at, email))
        samples.append(_operational("token_usage", call["input_tokens"] + call["output_tokens"],
                                    {"model": model, "operation": operation}, at, email))
        if not call["success"]:
            samples.append(_operational("error_count", 1, {"stage": operation, "error_type": "unusable_answer"}, at,
                                        email))
    return samples


def _queue_samples(day, rng, every_minutes=30):
    """The day's queue-depth samples: mostly empty queues, with a busier peak on some days."""
    peak = rng.randint(3, 25) if day.weekday() < 5 else rng.randint(1, 4)
    samples = []
    for minute in range(7 * 60, 18 * 60, every_minutes):
        at = _moment(day, minute // 60, minute % 60)
        samples.append(_operational("queue_depth", round(peak * rng.random() ** 4), {"queue": "emails_waiting"}, at))
        samples.append(_operational("queue_depth", round(peak / 3 * rng.random() ** 4), {"queue": "django_q"}, at))
    return samples


def _summarise(metric_type, labels_key, day, values):
    return {"metric_type": metric_type, "date": day.isoformat(), "labels_key": labels_key,
            "sample_count": len(values), "sum_value": float(sum(values)), "avg_value": sum(values) / len(values),
            "min_value": float(min(values)), "max_value": float(max(values)),
            "p95_value": percentile_cont(values, 0.95), "rolled_up_at": _moment(day + timedelta(days=1), 1, 30)}


def _operational_daily_of_samples(samples, day):
    groups = {}
    for sample in samples:
        groups.setdefault((sample["metric_type"], sample["labels_key"]), []).append(sample["value"])
    return [
        _summarise(metric_type, labels_key, day, values) for (metric_type, labels_key), values in sorted(groups.items())
    ]


def _operational_daily(prompt_rows_of_day, day, rng):
    """A past day's operational rollup, consistent with that day's prompt rollups."""
    by_prompt = {}
    for row in prompt_rows_of_day:
        # On the switch-over day two versions share one operation label: their figures add up.
        by_prompt.setdefault(tuple(row["prompt_version"][:2]), []).append(row)
    rows = []
    for (task_type, name), versions in by_prompt.items():
        operation = OPERATION[name]
        calls = sum(row["call_count"] for row in versions)
        avg = sum(row["avg_execution_time_ms"] * row["call_count"] for row in versions) / calls
        p95 = max(row["p95_execution_time_ms"] for row in versions)
        rows.append({**_summarise("processing_time_ms", f"stage={operation}", day, [avg] * calls), "p95_value": p95,
                     "min_value": round(avg * 0.4, 1), "max_value": round(p95 * 1.3, 1)})
        tokens = sum(row["total_input_tokens"] + row["total_output_tokens"] for row in versions)
        labels_key = canonical_labels_key({"model": _model_of(task_type, name), "operation": operation})
        rows.append(
            {**_summarise("token_usage", labels_key, day, [tokens / calls] * calls), "sum_value": float(tokens)}
        )
        failures = calls - sum(row["success_count"] for row in versions)
        if failures:
            labels_key = canonical_labels_key({"stage": operation, "error_type": "unusable_answer"})
            rows.append(_summarise("error_count", labels_key, day, [1] * failures))
    if day.weekday() == 1 and rng.random() < 0.5:  # now and then an API outage on a Tuesday
        labels_key = canonical_labels_key({"stage": "classify", "error_type": "APITimeoutError"})
        rows.append(_summarise("error_count", labels_key, day, [1] * rng.randint(2, 6)))
    rows += _operational_daily_of_samples(_queue_samples(day, rng, every_minutes=1), day)
    return rows


def metric_rows():
    rng = random.Random(SEED)
    prompt_daily, operational_daily = [], []
    for day in (END - timedelta(days=offset) for offset in range(DAYS - 1, 0, -1)):
        of_day = [row for key in PROFILES if (row := _daily_row(key, day, rng)) is not None]
        prompt_daily += of_day
        operational_daily += _operational_daily(of_day, day, rng)
    emails = [message_id(email[0]) for email in EMAILS if email[4] != "queued"]
    raw_calls, raw_samples = [], _queue_samples(END, rng)
    for key in PROFILES:
        calls = _raw_calls(key, rng, emails)
        if calls:
            raw_calls += calls
            prompt_daily.append(_rollup_of_calls(key, calls))
            raw_samples += _operational_of_calls(key, calls)
    raw_samples.append(_operational("error_count", 1, {"stage": "classify", "error_type": "APITimeoutError"},
                                    _moment(END, 9, 30), [message_id("zeitueberschreitung")]))
    operational_daily += _operational_daily_of_samples(raw_samples, END)
    return (
        [{"model": "metrics.promptperformancedaily", "fields": row} for row in prompt_daily]
        + [{"model": "metrics.operationalmetricsdaily", "fields": row} for row in operational_daily]
        + [{"model": "metrics.promptperformancemetrics", "fields": row} for row in raw_calls]
        + [{"model": "metrics.operationalmetrics", "fields": row} for row in raw_samples]
    )


def demo_fixture():
    """Every row of the demo, in loading order (prompts before what refers to them)."""
    return prompt_rows() + email_rows() + metric_rows()
