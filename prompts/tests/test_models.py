"""PromptTemplate invariants: enforced by the database, not only by Python."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from prompts.errors import ImmutableVersionError
from prompts.models import PromptTemplate
from prompts.tests.conftest import make_prompt

pytestmark = pytest.mark.django_db


def test_the_same_version_of_a_prompt_cannot_exist_twice():
    make_prompt(version=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_prompt(version=1)


def test_the_same_version_number_may_exist_for_another_prompt():
    make_prompt(name="a", version=1)
    make_prompt(name="b", version=1)


def test_the_database_allows_only_one_active_version_per_prompt():
    make_prompt(version=1, is_active=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_prompt(version=2, is_active=True)


def test_inactive_versions_do_not_count_against_the_one_active_rule():
    make_prompt(version=1, is_active=True)
    make_prompt(version=2)
    make_prompt(version=3)
    assert PromptTemplate.objects.filter(name="amount_check").count() == 3


@pytest.mark.parametrize(
    "field, value",
    [("version", 0), ("temperature", -0.1), ("temperature", 1.5), ("max_tokens", 0)],
)
def test_the_database_rejects_out_of_range_values(field, value):
    # queryset.update() skips Python validation, so only the CHECK constraint can stop this.
    prompt = make_prompt()
    with pytest.raises(IntegrityError), transaction.atomic():
        PromptTemplate.objects.filter(pk=prompt.pk).update(**{field: value})


def test_saving_a_changed_version_raises():
    prompt = make_prompt()
    prompt.user_prompt_template = "Etwas anderes"
    with pytest.raises(ImmutableVersionError, match="create a new version"):
        prompt.save()
    prompt.refresh_from_db()
    assert prompt.user_prompt_template == "Prüfe den Betrag {{ amount }}."


@pytest.mark.parametrize(
    "field, value",
    [("model_name", "claude-opus-4-5-20251101"), ("temperature", 0.5), ("max_tokens", 5), ("system_prompt", "x")],
)
def test_model_settings_of_a_saved_version_are_immutable_too(field, value):
    prompt = make_prompt()
    setattr(prompt, field, value)
    with pytest.raises(ImmutableVersionError):
        prompt.save()


def test_saving_an_unchanged_version_is_allowed():
    prompt = make_prompt()
    prompt.save()


def test_a_syntax_error_is_rejected_with_its_line_number():
    prompt = PromptTemplate(
        task_type="validation", name="x", version=1, created_by="t", model_name="m",
        user_prompt_template="Zeile eins\n{{ betrag }\n",
    )
    with pytest.raises(ValidationError) as excinfo:
        prompt.full_clean()
    message = excinfo.value.message_dict["user_prompt_template"][0]
    assert "line 2" in message


def test_an_invalid_output_schema_is_rejected():
    prompt = PromptTemplate(
        task_type="validation", name="x", version=1, created_by="t", model_name="m",
        user_prompt_template="ok", output_schema={"type": "no-such-type"},
    )
    with pytest.raises(ValidationError) as excinfo:
        prompt.full_clean()
    assert "Not a valid JSON Schema" in excinfo.value.message_dict["output_schema"][0]


def test_a_valid_output_schema_is_accepted():
    prompt = PromptTemplate(
        task_type="validation", name="x", version=1, created_by="t", model_name="m",
        user_prompt_template="ok", output_schema={"type": "object", "properties": {"a": {"type": "number"}}},
    )
    prompt.full_clean()


def test_the_variables_a_version_uses_are_listed_on_it():
    prompt = make_prompt(system_prompt="Du bist {{ role }}.", user_prompt_template="{{ subject }} {{ body }}")
    assert prompt.variables == ["body", "role", "subject"]


def test_render_fills_system_and_user_prompt():
    prompt = make_prompt(system_prompt="Rolle: {{ role }}", user_prompt_template="Betrag: {{ amount }}")
    rendered = prompt.render({"role": "Prüfer", "amount": "1.234,56 €"})
    assert rendered.system == "Rolle: Prüfer"
    assert rendered.user == "Betrag: 1.234,56 €"


def test_render_of_a_version_without_system_prompt_gives_an_empty_system_string():
    assert make_prompt().render({"amount": 1}).system == ""


def test_a_template_reaching_for_private_attributes_is_refused_on_save():
    prompt = PromptTemplate(
        task_type="validation", name="x", version=1, created_by="t", model_name="m",
        user_prompt_template="Hallo\n{{ subject.__class__.__mro__ }}",
    )
    with pytest.raises(ValidationError) as excinfo:
        prompt.full_clean()
    assert "line 2" in excinfo.value.message_dict["user_prompt_template"][0]
    assert "not allowed" in excinfo.value.message_dict["user_prompt_template"][0]
