"""Metric rows refer to e-mails by a plain id since metrics migration 0002: old rows keep their ids."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from extraction.models import IncomingEmail
from metrics.models import OperationalMetrics, PromptPerformanceMetrics

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WITH_FOREIGN_KEY = [("metrics", "0001_initial")]
WITH_PLAIN_ID = [("metrics", "0002_email_id_without_foreign_key")]


def migrate(targets):
    """Migrate to `targets` and return the app registry of that state (e-mails: the current model, since
    only `metrics` moves)."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def at_latest_afterwards():
    yield
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def email_foreign_keys():
    with connection.cursor() as cursor:
        return [
            (table, constraint["foreign_key"])
            for table in ("metrics_promptperformancemetrics", "metrics_operationalmetrics")
            for constraint in connection.introspection.get_constraints(cursor, table).values()
            if constraint["foreign_key"] and constraint["columns"] == ["email_id"]
        ]


def add_rows(apps, email_id):
    version = apps.get_model("prompts", "PromptTemplate").objects.get(name="email_intent", version=1)
    call = apps.get_model("metrics", "PromptPerformanceMetrics").objects.create(
        prompt_version=version, email_id=email_id, input_tokens=10, output_tokens=5, cost_usd="0.00001000",
        success=True, execution_time_ms=900,
    )
    sample = apps.get_model("metrics", "OperationalMetrics").objects.create(
        metric_type="processing_time_ms", value=900, labels={"stage": "classify"}, labels_key="stage=classify",
        email_id=email_id,
    )
    return call.pk, sample.pk


def email_ids(call_pk, sample_pk):
    return (
        PromptPerformanceMetrics.objects.get(pk=call_pk).email_id,
        OperationalMetrics.objects.get(pk=sample_pk).email_id,
    )


def test_rows_written_with_the_foreign_key_keep_their_email_ids_and_lose_the_constraint(at_latest_afterwards):
    old = migrate(WITH_FOREIGN_KEY)
    assert len(email_foreign_keys()) == 2
    email = IncomingEmail.objects.create(message_id="<kept@test>", sender="a@b.de")
    rows = add_rows(old, email.pk)

    migrate(WITH_PLAIN_ID)

    assert email_foreign_keys() == []
    email_id = email.pk
    assert email_ids(*rows) == (email_id, email_id)
    email.delete()  # e-mails are extraction's business: the metric rows keep the id they were recorded with
    assert email_ids(*rows) == (email_id, email_id)


def test_reversing_restores_the_foreign_key_and_forgets_only_ids_of_emails_that_are_gone(at_latest_afterwards):
    new = migrate(WITH_PLAIN_ID)
    email = IncomingEmail.objects.create(message_id="<kept@test>", sender="a@b.de")
    kept = add_rows(new, email.pk)
    gone = add_rows(new, email.pk + 1000)

    migrate(WITH_FOREIGN_KEY)

    assert len(email_foreign_keys()) == 2
    migrate(WITH_PLAIN_ID)
    assert email_ids(*kept) == (email.pk, email.pk)
    assert email_ids(*gone) == (None, None)
