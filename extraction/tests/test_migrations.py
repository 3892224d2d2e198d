"""Migrations of the extraction app keep the data that is already stored."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from extraction.models import IncomingEmail

BEFORE_RENAME = [("extraction", "0004_intent_choices")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_renaming_the_emails_confidence_to_lowest_confidence_keeps_every_value():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_RENAME)
    OldEmail = executor.loader.project_state(BEFORE_RENAME).apps.get_model("extraction", "IncomingEmail")
    OldEmail.objects.create(message_id="<old@x>", sender="a@b.example", confidence=0.42, intent_confidence=0.9)
    OldEmail.objects.create(message_id="<none@x>", sender="a@b.example", confidence=None, intent_confidence=None)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert dict(IncomingEmail.objects.values_list("message_id", "lowest_confidence")) == {
        "<old@x>": 0.42, "<none@x>": None
    }
    assert IncomingEmail.objects.get(message_id="<old@x>").intent_confidence == 0.9
