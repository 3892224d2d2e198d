"""Three years of creditor mail generated in PostgreSQL (generate_series), for the page benchmarks.

~900 e-mails a day with German senders and subjects, attachments, extraction results, the operators' reviews
(every manual review and a 5 % QA sample, with their accuracy rows), 10M raw metric rows in the proportions the
pipeline writes them (prompt calls, tokens, stage times, confidences, a queue-depth sample a minute), a year of
daily rollups, a second classification version activated half a year ago, and one hostile e-mail with 10,000
attachments and a 50 MB body. Used by bench_pages and bench_review_page; not a benchmark itself.
"""

import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

EMAILS = 1_000_000
DAYS = 3 * 365
PROMPT_CALLS = 2_000_000  # classification for every e-mail, extraction for most
OPERATIONAL_PER_EMAIL_ROWS = 6_500_000  # tokens, stage times and confidence per call, pipeline time
ROLLUP_DAYS = 365
HOSTILE_ATTACHMENTS = 10_000
HOSTILE_BODY_BYTES = 50 * 1024 * 1024

SURNAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
    "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann",
]
CREDITORS = [
    "Creditreform Inkasso Süd GmbH", "EOS Deutscher Inkasso-Dienst GmbH", "Brandt & Kollegen Rechtsanwälte",
    "Sparkasse Rhein-Neckar", "Vodafone GmbH Forderungsmanagement", "Otto Payment GmbH", "Riverty Services GmbH",
    "Intrum Deutschland GmbH", "Stadtwerke Bochum", "Deutsche Telekom Inkasso", "Klarna Bank AB",
    "Lowell Inkasso Service", "Inkasso Müller & Partner", "AOK Bayern Beitragseinzug", "Santander Consumer Bank",
]
INTENTS = [  # (intent, share)
    ("debt_statement", 0.35), ("payment_plan", 0.20), ("rejection", 0.15), ("inquiry", 0.08),
    ("auto_reply", 0.15), ("spam", 0.07),
]


def _intent_case(column):
    """SQL CASE choosing an intent from a uniform random `column` with the shares above."""
    parts, upper = [], 0.0
    for intent, share in INTENTS:
        upper += share
        parts.append(f"WHEN {column} < {upper:.4f} THEN '{intent}'")
    return "CASE " + " ".join(parts[:-1]) + f" ELSE '{INTENTS[-1][0]}' END"


def secondary_indexes(tables):
    """Indexes that can be dropped and rebuilt: neither primary keys nor ones backing a constraint."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = ANY(%s) AND i.schemaname = 'public'
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass)
            """,
            [list(tables)],
        )
        return cursor.fetchall()


def _execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def insert_emails(*, start, end):
    """EMAILS e-mails evenly spread over [start, end); id i arrives at start + (end - start) * i / EMAILS."""
    _execute(
        f"""
        INSERT INTO extraction_incomingemail (id, message_id, sender, subject, body_text, body_html, received_at,
            status, intent, lowest_confidence, error, attempts, created_at, updated_at, intent_confidence,
            processing_started_at, review_reason, review_sample)
        SELECT i, '<' || i || '.' || substr(md5(i::text), 1, 16) || '@mail.example.de>',
               creditor || ' <forderungen' || (i %% 97) || '@example.de>',
               'Ihr Schreiben vom ' || to_char(created - interval '12 days', 'DD.MM.YYYY') || ' – Az. ' || ref
                   || ' – ' || debtor,
               'Sehr geehrte Damen und Herren,' || chr(10) || chr(10) || 'in der Angelegenheit ' || debtor
                   || ' (unser Zeichen ' || ref || ') teilen wir Ihnen mit, dass sich die Forderung zum '
                   || to_char(created, 'DD.MM.YYYY') || ' auf ' || to_char(amount, 'FM999G990D00') || ' EUR beläuft. '
                   || repeat('Die Hauptforderung, die Zinsen und die Kosten ergeben sich aus der beigefügten '
                             || 'Forderungsaufstellung. ', 1 + (i %% 6))
                   || chr(10) || 'Mit freundlichen Grüßen' || chr(10) || creditor,
               CASE WHEN i %% 5 = 0 THEN '<html><body><p>Sehr geehrte Damen und Herren,</p><p>Forderung '
                   || debtor || ', Az. ' || ref || '</p></body></html>' ELSE '' END,
               created - interval '3 minutes',
               status, CASE WHEN status IN ('failed', 'queued') THEN '' ELSE intent END,
               CASE WHEN status IN ('failed', 'queued') THEN NULL ELSE confidence END,
               CASE WHEN status = 'failed' THEN 'classify: the Anthropic API answered 529 (overloaded)' ELSE '' END,
               CASE WHEN status = 'queued' THEN 0 ELSE 1 END,
               created, created + interval '40 seconds',
               CASE WHEN status IN ('failed', 'queued') THEN NULL ELSE 0.6 + 0.4 * r_conf END,
               CASE WHEN status = 'queued' THEN NULL ELSE created + interval '5 seconds' END,
               CASE WHEN status = 'manual_review' AND intent = 'inquiry' THEN 'the creditor asks a question'
                    WHEN status = 'manual_review' THEN 'confidence ' || round(confidence::numeric, 2) || ' is below 0.7'
                    ELSE '' END,
               false
        FROM (
            SELECT i, created, debtor, creditor, ref, amount, intent, r_conf, confidence,
                   CASE WHEN i > %(n)s - 40 THEN 'queued'
                        WHEN r_status < 0.015 THEN 'failed'
                        WHEN intent IN ('auto_reply', 'spam') THEN 'classified'
                        WHEN intent = 'inquiry' OR confidence < 0.7 THEN 'manual_review'
                        ELSE 'extracted' END AS status
            FROM (
                SELECT i, created, debtor, creditor, ref, amount, intent, r_status, r_conf,
                       CASE WHEN intent IN ('auto_reply', 'spam') THEN 0.8 + 0.2 * r_conf
                            ELSE 0.55 + 0.45 * sqrt(r_conf) END AS confidence
                FROM (
                    SELECT i, %(start)s::timestamptz + (%(end)s::timestamptz - %(start)s::timestamptz)
                                  * ((i - 1)::float8 / %(n)s) AS created,
                           (%(surnames)s::text[])[1 + (hashint4(i) & 1023) %% %(n_surnames)s] AS debtor,
                           (%(creditors)s::text[])[1 + (hashint4(i + 7) & 1023) %% %(n_creditors)s] AS creditor,
                           (100000 + random() * 899999)::int::text AS ref,
                           (50 + random() * random() * 12000)::numeric(12, 2) AS amount,
                           {_intent_case("r_intent")} AS intent,
                           random() AS r_status, random() AS r_conf
                    FROM (SELECT i, random() AS r_intent FROM generate_series(1, %(n)s) AS i) AS series
                ) AS drawn
            ) AS scored
        ) AS final
        """,
        {"n": EMAILS, "start": start, "end": end, "surnames": SURNAMES, "n_surnames": len(SURNAMES),
         "creditors": CREDITORS, "n_creditors": len(CREDITORS)},
    )
    _execute("SELECT setval(pg_get_serial_sequence('extraction_incomingemail', 'id'), %s)", [EMAILS])


def fact_emails(alias):
    """SQL condition: e-mail `alias` carries facts and was extracted."""
    return (f"{alias}.intent IN ('debt_statement', 'payment_plan', 'rejection')"
            f" AND {alias}.status IN ('extracted', 'manual_review')")


def insert_attachments_and_results(versions):
    """A PDF for every third fact-carrying e-mail; body, PDF and merged results for each of them."""
    _execute(
        f"""
        INSERT INTO extraction_emailattachment (file, original_name, content_type, size, sha256, is_inline,
            refused_reason, created_at, email_id)
        SELECT 'attachments/' || id || '/Forderungsaufstellung.pdf', 'Forderungsaufstellung.pdf', 'application/pdf',
               40000 + id %% 200000, md5(id::text) || md5((id + 1)::text), false, '', created_at, id
        FROM extraction_incomingemail e WHERE {fact_emails("e")} AND id %% 3 = 0
        """
    )
    result_columns = """email_id, source, attachment_id, prompt_version_id, raw_response, parsed, success, error,
        creditor_name, creditor_reference, debtor_name, total_claim, principal, interest, costs, statement_date,
        accepts_plan, confidence, unparsed, needs_review, created_at, updated_at"""
    facts = """split_part(e.sender, ' <', 1), split_part(split_part(e.subject, 'Az. ', 2), ' ', 1),
        split_part(e.subject, ' – ', 3), 1234.56, 1100.00, 84.56, 50.00, (e.created_at - interval '10 days')::date,
        CASE WHEN e.intent = 'payment_plan' THEN true WHEN e.intent = 'rejection' THEN false END, e.lowest_confidence,
        '{}'::jsonb, e.status = 'manual_review', e.created_at, e.updated_at"""
    answer = """'{"creditor_name": "' || split_part(e.sender, ' <', 1) || '", "total_claim": "1.234,56 EUR",
        "confidence": ' || round(e.lowest_confidence::numeric, 2) || '}'"""
    for source, version, join in [
        ("body", versions["body"], ""),
        ("pdf", versions["pdf"], "JOIN extraction_emailattachment a ON a.email_id = e.id"),
        ("merged", None, ""),
    ]:
        attachment = "a.id" if join else "NULL"
        raw = "''" if version is None else answer
        parsed = "NULL" if version is None else f"({answer})::jsonb"
        _execute(
            f"""
            INSERT INTO extraction_extractionresult ({result_columns})
            SELECT e.id, %s, {attachment}, %s, {raw}, {parsed}, true, '', {facts}
            FROM extraction_incomingemail e {join} WHERE {fact_emails("e")}
            """,
            [source, version],
        )


def insert_prompt_calls(versions, *, start, end, switch):
    """PROMPT_CALLS raw prompt-call rows: e-mail i gets calls 2i (classification) and 2i+1 (extraction)."""
    _execute(
        """
        INSERT INTO metrics_promptperformancemetrics (prompt_version_id, email_id, input_tokens, output_tokens,
            cost_usd, success, confidence, needs_review, execution_time_ms, recorded_at)
        SELECT CASE WHEN i %% 2 = 0 THEN (CASE WHEN at < %(switch)s THEN %(classify_v1)s ELSE %(classify_v2)s END)
                    WHEN i %% 6 = 5 THEN %(pdf)s ELSE %(body)s END,
               email, 800 + (random() * 2500)::int, 60 + (random() * 500)::int,
               round((random() * 0.02)::numeric, 8), random() < 0.97, 0.55 + 0.45 * random(), random() < 0.1,
               (300 + random() * random() * 9000)::int, at
        FROM (
            SELECT i, 1 + i / 2 AS email,
                   %(start)s::timestamptz + (%(end)s::timestamptz - %(start)s::timestamptz)
                       * ((i / 2)::float8 / %(emails)s) + (i %% 2) * interval '4 seconds' AS at
            FROM generate_series(0, %(rows)s - 1) AS i
        ) AS calls
        """,
        {**versions, "rows": PROMPT_CALLS, "emails": EMAILS, "start": start, "end": end, "switch": switch},
    )


OPERATIONAL_KINDS = [  # (metric type, labels, value expression); one row of each kind per 13-row block
    ("token_usage", {"model": "claude-haiku-4-5-20251001", "operation": "classify"}, "900 + random() * 2000"),
    ("token_usage", {"model": "claude-sonnet-4-6", "operation": "extract_body"}, "1200 + random() * 3000"),
    ("processing_time_ms", {"stage": "classify"}, "300 + random() * random() * 4000"),
    ("processing_time_ms", {"stage": "extract_body"}, "900 + random() * random() * 9000"),
    ("processing_time_ms", {"stage": "pipeline"}, "1500 + random() * random() * 12000"),
    ("confidence_score", {}, "0.55 + 0.45 * random()"),
    ("token_usage", {"model": "claude-haiku-4-5-20251001", "operation": "classify"}, "900 + random() * 2000"),
    ("processing_time_ms", {"stage": "classify"}, "300 + random() * random() * 4000"),
    ("confidence_score", {}, "0.55 + 0.45 * random()"),
    ("token_usage", {"model": "claude-sonnet-4-6", "operation": "extract_pdf"}, "2500 + random() * 6000"),
    ("processing_time_ms", {"stage": "extract_pdf"}, "2000 + random() * random() * 15000"),
    ("processing_time_ms", {"stage": "pipeline"}, "1500 + random() * random() * 12000"),
    ("error_count", {"stage": "classify", "error_type": "overloaded"}, "1"),
]


def _labels_key(labels):
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def insert_operational_samples(*, start, end):
    """The per-e-mail operational rows, plus one queue-depth sample a minute over the whole period."""
    import json

    kinds = "VALUES " + ", ".join(
        f"({n}, '{metric}', '{json.dumps(labels)}'::jsonb, '{_labels_key(labels)}')"
        for n, (metric, labels, _) in enumerate(OPERATIONAL_KINDS)
    )
    # Each kind has its own value distribution, drawn per row.
    value = "CASE samples.k " + " ".join(f"WHEN {n} THEN {sql}" for n, (_, _, sql) in enumerate(OPERATIONAL_KINDS))
    _execute(
        f"""
        INSERT INTO metrics_operationalmetrics (metric_type, value, labels, labels_key, email_id, recorded_at)
        SELECT kinds.metric, {value} END, kinds.labels, kinds.labels_key, samples.email, samples.at
        FROM (
            SELECT i %% {len(OPERATIONAL_KINDS)} AS k,
                   1 + (i::bigint * %(emails)s / %(rows)s) AS email,
                   %(start)s::timestamptz + (%(end)s::timestamptz - %(start)s::timestamptz)
                       * ((i::bigint * %(emails)s / %(rows)s)::float8 / %(emails)s) + interval '6 seconds' AS at
            FROM generate_series(0, %(rows)s - 1) AS i
        ) AS samples
        JOIN ({kinds}) AS kinds(n, metric, labels, labels_key) ON kinds.n = samples.k
        """,
        {"rows": OPERATIONAL_PER_EMAIL_ROWS, "emails": EMAILS, "start": start, "end": end},
    )
    _execute(
        """
        INSERT INTO metrics_operationalmetrics (metric_type, value, labels, labels_key, email_id, recorded_at)
        SELECT 'queue_depth', floor(random() * random() * 40), '{"queue": "emails"}'::jsonb, 'queue=emails', NULL, at
        FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz, interval '1 minute') AS at
        """,
        {"start": start, "end": end},
    )


def insert_daily_rollups(versions, *, today, switch):
    """ROLLUP_DAYS days of daily prompt and operational rows ending yesterday (today comes from raw rows)."""
    first, last = today - timedelta(days=ROLLUP_DAYS), today - timedelta(days=1)
    _execute(
        """
        INSERT INTO metrics_promptperformancedaily (prompt_version_id, date, call_count, success_count, review_count,
            total_input_tokens, total_output_tokens, total_cost_usd, avg_confidence, avg_execution_time_ms,
            p95_execution_time_ms, rolled_up_at)
        SELECT version, day, calls, (calls * (0.94 + random() * 0.05))::int, (calls * random() * 0.15)::int,
               calls * 2100, calls * 310, round((calls * (0.008 + random() * 0.004))::numeric, 8),
               0.8 + random() * 0.15, 1800 + random() * 600, 5200 + random() * 2500, now()
        FROM (
            SELECT day::date, version, (700 + random() * 400)::int AS calls
            FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS day,
                 unnest(ARRAY[%(classify_v1)s, %(classify_v2)s, %(body)s, %(pdf)s]) AS version
            WHERE version NOT IN (%(classify_v1)s, %(classify_v2)s)
               OR (version = %(classify_v1)s) = (day::date < %(switch)s::date)
        ) AS days
        """,
        {**versions, "first": first, "last": last, "switch": switch},
    )
    keys = sorted({(metric, _labels_key(labels)) for metric, labels, _ in OPERATIONAL_KINDS}
                  | {("queue_depth", "queue=emails")})
    _execute(
        """
        INSERT INTO metrics_operationalmetricsdaily (metric_type, date, labels_key, sample_count, sum_value,
            avg_value, min_value, max_value, p95_value, rolled_up_at)
        SELECT metric, day::date, labels_key, n, n * avg, avg, avg * 0.2, avg * 4, avg * 2.5, now()
        FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS day,
             unnest(%(metrics)s::text[], %(labels)s::text[]) AS keys(metric, labels_key),
             LATERAL (SELECT (500 + random() * 900)::int AS n, 10 + random() * 2000 AS avg) AS figures
        """,
        {"first": first, "last": last, "metrics": [k[0] for k in keys], "labels": [k[1] for k in keys]},
    )


def insert_hostile_email(*, now):
    """One e-mail with HOSTILE_ATTACHMENTS attachments and a HOSTILE_BODY_BYTES body; returns its id."""
    email_id = EMAILS + 1
    _execute(
        """
        INSERT INTO extraction_incomingemail (id, message_id, sender, subject, body_text, body_html, received_at,
            status, intent, lowest_confidence, error, attempts, created_at, updated_at, review_reason, review_sample)
        SELECT %(id)s, '<hostile@example.org>', 'Spam <x@example.org>', 'Forderung mit 10.000 Anhängen',
               (SELECT string_agg(md5(g::text), ' ') FROM generate_series(1, %(chunks)s) AS g), '', %(now)s,
               'manual_review', 'spam', 0.5, '', 1, %(now)s, %(now)s, 'too many attachments', false
        """,
        {"id": email_id, "chunks": HOSTILE_BODY_BYTES // 33, "now": now},
    )
    _execute(
        """
        INSERT INTO extraction_emailattachment (file, original_name, content_type, size, sha256, is_inline,
            refused_reason, created_at, email_id)
        SELECT '', 'rechnung_' || n || '.pdf', 'application/pdf', 300, md5(n::text) || md5(n::text), false,
               'not analysed: too many attachments', %(now)s, %(id)s
        FROM generate_series(1, %(n)s) AS n
        """,
        {"id": email_id, "n": HOSTILE_ATTACHMENTS, "now": now},
    )
    _execute("SELECT setval(pg_get_serial_sequence('extraction_incomingemail', 'id'), %s)", [email_id])
    return email_id


REVIEW_AFTER = timedelta(days=2)  # operators work the queue within two days: the newest part is still waiting
SAMPLE_PER_1024 = 51  # REVIEW_SAMPLE_RATE 0.05 of the e-mails that finished automatically
ACCURACY_RAW_DAYS = 30  # the raw accuracy rows' retention; older days live in the daily rollup


def insert_reviews(versions, *, now, switch, reviewer_id):
    """The operators' ground truth in realistic proportions: every e-mail that went to manual review and a 5 %
    QA sample of the rest is reviewed two days after it arrived (the last two days are the waiting queue),
    mostly confirmed, some corrected; with the accuracy rows such reviews write (raw for the last 30 days,
    daily before) for the classification version that served and the body-extraction version."""
    cutoff = now - REVIEW_AFTER
    _execute(
        f"UPDATE extraction_incomingemail SET review_sample = true WHERE status IN ('extracted', 'classified')"
        f" AND hashint4((id + 11)::int) & 1023 < {SAMPLE_PER_1024}"
    )
    _execute(
        """
        INSERT INTO extraction_emailreview (email_id, intent, creditor_name, creditor_reference, debtor_name,
            total_claim, principal, interest, costs, statement_date, accepts_plan, changed_fields, note,
            reviewed_by_id, reviewed_at, revision, scores)
        SELECT e.id, e.intent, coalesce(m.creditor_name, ''), coalesce(m.creditor_reference, ''),
               coalesce(m.debtor_name, ''),
               CASE WHEN e.status = 'manual_review' THEN m.total_claim + 10 ELSE m.total_claim END,
               m.principal, m.interest, m.costs, m.statement_date, m.accepts_plan,
               CASE WHEN e.status = 'manual_review' AND m.id IS NOT NULL THEN '["total_claim"]'::jsonb
                    ELSE '[]'::jsonb END,
               '', %(reviewer)s, e.created_at + %(after)s, 1, '[]'::jsonb
        FROM extraction_incomingemail e
        LEFT JOIN extraction_extractionresult m ON m.email_id = e.id AND m.source = 'merged'
        WHERE e.created_at < %(cutoff)s AND (e.status = 'manual_review' OR e.review_sample)
        """,
        {"reviewer": reviewer_id, "after": REVIEW_AFTER, "cutoff": cutoff},
    )
    _execute("UPDATE extraction_incomingemail e SET status = 'reviewed' FROM extraction_emailreview r"
             " WHERE r.email_id = e.id")
    classifier = "CASE WHEN e.created_at < %(switch)s THEN %(classify_v1)s ELSE %(classify_v2)s END"
    facts = "e.intent IN ('debt_statement', 'payment_plan', 'rejection')"
    scored = f"""
        SELECT {classifier} AS version, r.id AS review_id, r.email_id, 0 AS checked, 0 AS correct, 1 AS intent_checked,
               CASE WHEN hashint4(r.id::int) & 15 = 0 THEN 0 ELSE 1 END AS intent_correct, r.reviewed_at
        FROM extraction_emailreview r JOIN extraction_incomingemail e ON e.id = r.email_id
        UNION ALL
        SELECT %(body)s, r.id, r.email_id, 9, CASE WHEN hashint4((r.id + 1)::int) & 7 = 0 THEN 7 ELSE 9 END,
               0, 0, r.reviewed_at
        FROM extraction_emailreview r JOIN extraction_incomingemail e ON e.id = r.email_id WHERE {facts}
    """
    params = {**versions, "switch": switch, "raw_since": now - timedelta(days=ACCURACY_RAW_DAYS),
              "zone": timezone.get_current_timezone_name()}
    _execute(
        f"""
        INSERT INTO metrics_promptaccuracymetrics (prompt_version_id, review_id, email_id, fields_checked,
            fields_correct, intent_checked, intent_correct, recorded_at)
        SELECT * FROM ({scored}) AS s WHERE reviewed_at >= %(raw_since)s
        """,
        params,
    )
    _execute(
        f"""
        INSERT INTO metrics_promptaccuracydaily (prompt_version_id, date, review_count, fields_checked,
            fields_correct, intent_checked, intent_correct, rolled_up_at)
        SELECT version, (reviewed_at AT TIME ZONE %(zone)s)::date, count(*), sum(checked), sum(correct),
               sum(intent_checked), sum(intent_correct), now()
        FROM ({scored}) AS s WHERE reviewed_at < %(raw_since)s GROUP BY 1, 2
        """,
        params,
    )


LOADED_TABLES = [
    "extraction_incomingemail", "extraction_emailattachment", "extraction_extractionresult",
    "extraction_emailreview", "metrics_promptperformancemetrics", "metrics_operationalmetrics",
    "metrics_promptaccuracymetrics",
]


def make_versions(*, switch):
    """The seeded v1 prompts plus a v2 of the classification prompt, activated at `switch`."""
    from prompts.models import PromptActivation, PromptTemplate
    from prompts.services import prompt_activate, prompt_create_version

    v1 = {(p.task_type, p.name): p for p in PromptTemplate.objects.filter(version=1)}
    classify_v1 = v1["classification", "email_intent"]
    classify_v2 = prompt_create_version(source=classify_v1, created_by="erika", description="bench: shorter")
    prompt_activate(template=classify_v2, activated_by="erika")
    PromptActivation.objects.filter(to_version=classify_v2).update(activated_at=switch)
    return {
        "classify_v1": classify_v1.pk, "classify_v2": classify_v2.pk,
        "body": v1["extraction", "email_body"].pk, "pdf": v1["extraction", "pdf_scanned"].pk,
    }


def generate():
    """Fill the (migrated, empty) database; returns what the page list needs."""
    from django.contrib.auth.models import User

    from metrics.days import local_day

    now = timezone.now()
    start, end = now - timedelta(days=DAYS), now - timedelta(minutes=2)
    switch = now - timedelta(days=180)
    versions = make_versions(switch=switch)
    reviewer = User.objects.create_user("erika", "erika@example.org", is_staff=True)
    indexes = secondary_indexes(LOADED_TABLES)
    steps = [
        ("e-mails", lambda: insert_emails(start=start, end=end)),
        ("attachments and results", lambda: insert_attachments_and_results(versions)),
        ("reviews and their accuracy",
         lambda: insert_reviews(versions, now=now, switch=switch, reviewer_id=reviewer.pk)),
        ("prompt-call metrics", lambda: insert_prompt_calls(versions, start=start, end=end, switch=switch)),
        ("operational metrics", lambda: insert_operational_samples(start=start, end=end)),
        ("daily rollups", lambda: insert_daily_rollups(versions, today=local_day(now), switch=switch)),
        ("hostile e-mail", lambda: insert_hostile_email(now=now)),
    ]
    for name, _ in indexes:
        _execute(f'DROP INDEX "{name}"')
    # Bulk load: no per-row foreign-key triggers, no WAL flush per statement.
    _execute("SET session_replication_role = replica")
    _execute("SET synchronous_commit = off")
    for label, step in steps:
        started = time.perf_counter()
        step()
        print(f"   generated {label} in {time.perf_counter() - started:.0f} s", flush=True)
    _execute("SET session_replication_role = DEFAULT")
    started = time.perf_counter()
    _execute("SET maintenance_work_mem = '512MB'")
    for _, definition in indexes:
        _execute(definition)
    for table in LOADED_TABLES + [
        "metrics_promptperformancedaily", "metrics_operationalmetricsdaily", "metrics_promptaccuracydaily",
    ]:
        _execute(f"VACUUM ANALYZE {table}")
    print(f"   built {len(indexes)} indexes and analysed in {time.perf_counter() - started:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM metrics_promptperformancemetrics)"
                       " + (SELECT count(*) FROM metrics_operationalmetrics)")
        metric_rows = cursor.fetchone()[0]
        cursor.execute("SELECT min(e.id) FROM extraction_incomingemail e JOIN extraction_emailattachment a"
                       " ON a.email_id = e.id WHERE e.status = 'extracted' AND e.id > %s", [EMAILS - 5000])
        typical = cursor.fetchone()[0]
        cursor.execute("SELECT count(*), max(email_id) FROM extraction_emailreview")
        reviews, reviewed = cursor.fetchone()
    print(f"   {EMAILS:,} e-mails ({reviews:,} reviewed), {metric_rows:,} raw metric rows", flush=True)
    return {"typical": typical, "hostile": EMAILS + 1, "reviewed": reviewed}
