"""The activation gate: validators from PROMPT_ACTIVATION_VALIDATORS, their audit, and the override."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from prompts.errors import ActivationBlocked
from prompts.models import PromptActivation, PromptRollout, PromptTemplate
from prompts.services import prompt_activate, prompt_rollback, rollout_start
from prompts.tests.factories import make_version
from prompts.tests.validators import gate

pytestmark = pytest.mark.django_db

UP_TO_V2 = gate(("MaximumVersionValidator", {"maximum": 2}))


def active_version():
    return PromptTemplate.objects.get(task_type="classification", name="email_intent", is_active=True).version


def test_a_version_the_gate_blocks_is_refused_with_the_reason_and_nothing_changes(intent_v1, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = UP_TO_V2
    make_version(intent_v1)
    v3 = make_version(intent_v1)
    with pytest.raises(ActivationBlocked, match="v3 is above v2") as excinfo:
        prompt_activate(template=v3, activated_by="erika")
    assert excinfo.value.reasons == ["v3 is above v2"]
    assert active_version() == 1
    assert not PromptActivation.objects.filter(to_version=v3).exists()


def test_every_blocking_validator_gives_its_reason(intent_v1, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = UP_TO_V2 + gate(("ModelNameValidator", {"model_name": "claude-opus-4-5"}))
    make_version(intent_v1)
    v3 = make_version(intent_v1)
    with pytest.raises(ActivationBlocked) as excinfo:
        prompt_activate(template=v3, activated_by="erika")
    assert excinfo.value.reasons == ["v3 is above v2", f"model {intent_v1.model_name} is not claude-opus-4-5"]


def test_a_version_that_passes_is_activated_and_the_audit_keeps_each_validators_note(intent_v1, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = UP_TO_V2
    v2 = make_version(intent_v1)
    activation = prompt_activate(template=v2, activated_by="erika")
    assert activation.gate == {
        "passed": [{"validator": "prompts.tests.validators.MaximumVersionValidator",
                    "note": "v2 ≤ v2, replacing classification.email_intent v1"}],
        "blocked": [],
    }
    assert activation.override_reason == ""


def test_an_override_with_a_reason_activates_and_the_audit_records_reason_and_what_was_overridden(intent_v1, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = UP_TO_V2
    make_version(intent_v1)
    v3 = make_version(intent_v1)
    activation = prompt_activate(template=v3, activated_by="olga", override_reason="  Hotfix for a wrong amount  ")
    assert active_version() == 3
    assert activation.override_reason == "Hotfix for a wrong amount"
    assert activation.gate["blocked"] == ["v3 is above v2"] and activation.gate["overridden"] is True


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_a_blank_override_reason_overrides_nothing(intent_v1, settings, blank):
    settings.PROMPT_ACTIVATION_VALIDATORS = UP_TO_V2
    make_version(intent_v1)
    v3 = make_version(intent_v1)
    with pytest.raises(ActivationBlocked):
        prompt_activate(template=v3, activated_by="olga", override_reason=blank)


def test_a_rollback_is_never_gated(intent_v1, settings):
    make_version(intent_v1)
    v3 = make_version(intent_v1)
    prompt_activate(template=v3, activated_by="erika")
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 0}))
    activation = prompt_rollback(task_type="classification", name="email_intent", activated_by="erika")
    assert activation.to_version == intent_v1 and activation.gate == {}


def test_a_canary_has_to_pass_the_gate_too(intent_v1, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = UP_TO_V2
    make_version(intent_v1)
    v3 = make_version(intent_v1)
    with pytest.raises(ActivationBlocked):
        rollout_start(candidate=v3, percent=10, started_by="erika")
    assert not PromptRollout.objects.exists()
    rollout = rollout_start(candidate=v3, percent=10, started_by="olga", override_reason="Canary only, 10 %")
    assert rollout.override_reason == "Canary only, 10 %" and rollout.gate["overridden"] is True


def test_the_bundled_schema_validator_refuses_classification_versions_without_an_output_schema(intent_v1, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = [{"NAME": "prompts.gate.RequireOutputSchemaValidator"}]
    without_schema = make_version(intent_v1, output_schema=None)
    with pytest.raises(ActivationBlocked, match="has no output schema"):
        prompt_activate(template=without_schema, activated_by="erika")
    with_schema = make_version(intent_v1)
    assert prompt_activate(template=with_schema, activated_by="erika").gate["passed"][0]["note"] == (
        "has an output schema"
    )


def test_a_validator_that_cannot_be_loaded_is_a_configuration_error_naming_it(intent_v1, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = [{"NAME": "prompts.tests.validators.NoSuchValidator"}]
    with pytest.raises(ImproperlyConfigured, match="NoSuchValidator"):
        prompt_activate(template=make_version(intent_v1), activated_by="erika")


def test_a_validator_setting_that_cannot_load_fails_the_system_check(settings):
    from prompts.checks import check_activation_validators

    settings.PROMPT_ACTIVATION_VALIDATORS = [{"NAME": "prompts.tests.validators.NoSuchValidator"}]
    assert [error.id for error in check_activation_validators()] == ["prompts.E001"]
    settings.PROMPT_ACTIVATION_VALIDATORS = [{"NAME": "prompts.tests.validators.MaximumVersionValidator"}]
    assert [error.id for error in check_activation_validators()] == ["prompts.E001"]  # missing option
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 3}))
    assert check_activation_validators() == []
