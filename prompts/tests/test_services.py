"""Creating, activating and rolling back prompt versions."""

import pytest
from django.core.exceptions import ValidationError

from prompts.errors import RollbackUnavailable
from prompts.models import PromptActivation, PromptTemplate
from prompts.selectors import get_active_prompt
from prompts.services import prompt_activate, prompt_create_next_version, prompt_create_version, prompt_rollback
from prompts.tests.factories import outcomes_at_once

pytestmark = pytest.mark.django_db


def new_version(source, **changes):
    return prompt_create_version(source=source, created_by="erika", description="Test change", **changes)


def test_a_new_version_copies_the_source_and_applies_the_changes(intent_v1):
    v2 = new_version(intent_v1, user_prompt_template="Neu: {{ subject }}", temperature=0.2)
    assert (v2.version, v2.is_active, v2.created_by) == (2, False, "erika")
    assert v2.user_prompt_template == "Neu: {{ subject }}"
    assert v2.temperature == 0.2
    assert v2.model_name == intent_v1.model_name
    assert v2.output_schema == intent_v1.output_schema
    assert v2.variables == ["subject"]


def test_a_new_version_gets_the_next_number_even_when_made_from_an_old_one(intent_v1):
    new_version(intent_v1)
    v3 = new_version(intent_v1)
    assert v3.version == 3


def test_a_new_version_with_a_syntax_error_is_refused_and_nothing_is_saved(intent_v1):
    with pytest.raises(ValidationError) as excinfo:
        new_version(intent_v1, user_prompt_template="{% if subject %}offen")
    assert "line" in excinfo.value.message_dict["user_prompt_template"][0]
    assert PromptTemplate.objects.filter(name="email_intent").count() == 1


def test_a_new_version_cannot_change_the_identity_of_the_prompt(intent_v1):
    with pytest.raises(TypeError, match="name"):
        new_version(intent_v1, name="other")


def test_the_first_version_of_a_new_prompt_is_inactive():
    v1 = prompt_create_next_version(
        task_type="validation", name="plausibility", created_by="erika",
        user_prompt_template="{{ total }}", model_name="claude-haiku-4-5-20251001",
    )
    assert (v1.version, v1.is_active) == (1, False)


def test_activating_a_version_deactivates_the_previous_one(intent_v1):
    v2 = new_version(intent_v1)
    prompt_activate(template=v2, activated_by="erika")
    intent_v1.refresh_from_db()
    v2.refresh_from_db()
    assert (intent_v1.is_active, v2.is_active) == (False, True)


def test_activation_records_who_when_and_from_which_version(intent_v1):
    v2 = new_version(intent_v1)
    activation = prompt_activate(template=v2, activated_by="erika")
    assert (activation.from_version, activation.to_version, activation.activated_by, activation.kind) == (
        intent_v1, v2, "erika", "activate"
    )
    assert activation.activated_at is not None


def test_activating_the_active_version_changes_nothing(intent_v1):
    before = PromptActivation.objects.count()
    assert prompt_activate(template=intent_v1, activated_by="erika") is None
    assert PromptActivation.objects.count() == before


def test_activation_is_seen_by_the_same_process_at_once(intent_v1, django_capture_on_commit_callbacks):
    assert get_active_prompt("classification", "email_intent") == intent_v1
    v2 = new_version(intent_v1)
    with django_capture_on_commit_callbacks(execute=True):
        prompt_activate(template=v2, activated_by="erika")
    assert get_active_prompt("classification", "email_intent").version == 2


def test_rollback_reactivates_the_version_active_before_the_current_one(intent_v1):
    v2 = new_version(intent_v1)
    v3 = new_version(intent_v1)
    prompt_activate(template=v3, activated_by="erika")  # v2 was never active
    activation = prompt_rollback(task_type="classification", name="email_intent", activated_by="max")
    assert activation.to_version == intent_v1
    assert (activation.from_version, activation.kind, activation.activated_by) == (v3, "rollback", "max")
    assert PromptTemplate.objects.get(is_active=True, name="email_intent") == intent_v1
    assert not PromptTemplate.objects.get(pk=v2.pk).is_active


def test_rollback_of_the_first_version_is_refused(intent_v1):
    with pytest.raises(RollbackUnavailable):
        prompt_rollback(task_type="classification", name="email_intent", activated_by="max")
    intent_v1.refresh_from_db()
    assert intent_v1.is_active


def test_rollback_without_an_active_version_is_refused():
    with pytest.raises(RollbackUnavailable):
        prompt_rollback(task_type="validation", name="unknown", activated_by="max")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_activations_always_leave_exactly_one_version_active():
    source = get_active_prompt("classification", "email_intent")
    versions = [new_version(source) for _ in range(6)] + [source]

    def activate(template):
        for _ in range(3):
            prompt_activate(template=template, activated_by=f"thread-{template.version}")

    errors = [outcome for outcome in outcomes_at_once(activate, versions) if outcome is not None]
    assert errors == []
    assert PromptTemplate.objects.filter(task_type="classification", name="email_intent", is_active=True).count() == 1
    last = PromptActivation.objects.filter(name="email_intent").first()
    assert PromptTemplate.objects.get(name="email_intent", is_active=True) == last.to_version


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_first_versions_of_a_new_prompt_get_consecutive_numbers_not_an_integrity_error():
    # No row exists yet to lock: PostgreSQL's advisory lock on the prompt's key (SQLite's IMMEDIATE
    # transactions) serialise these.
    writers = 6

    def add(number):
        return prompt_create_next_version(
            task_type="validation", name="race", created_by=f"thread-{number}",
            user_prompt_template="{{ total }}", model_name="claude-haiku-4-5-20251001",
        )

    created = outcomes_at_once(add, range(writers))
    assert sorted(t.version for t in created) == list(range(1, writers + 1)), created
