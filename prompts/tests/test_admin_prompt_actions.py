"""Creating versions, activating and rolling back from the admin, and who may do it."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from prompts.models import PromptActivation, PromptTemplate
from prompts.services import prompt_activate
from prompts.tests.factories import (
    ACTIVATE_VERSION,
    CREATE_VERSION,
    OPERATOR_PERMISSIONS,
    OVERRIDE_GATE,
    VIEW,
    login,
    make_staff_user,
    make_version,
)
from prompts.tests.validators import gate

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:prompts_prompttemplate_changelist")


def url(view, template):
    return reverse(f"admin:prompts_prompttemplate_{view}", args=[template.pk])


def run_action(client, action, *templates):
    return client.post(
        CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [t.pk for t in templates], "index": 0}, follow=True
    )


def messages_of(response):
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def new_version_data(source, **overrides):
    return {
        "description": "Kürzere Anweisung",
        "system_prompt": source.system_prompt,
        "user_prompt_template": source.user_prompt_template,
        "model_name": source.model_name,
        "temperature": str(source.temperature),
        "max_tokens": str(source.max_tokens),
        "output_schema": "",
        **overrides,
    }


def database_state():
    """Everything an action could change: versions with their active flag, and the audit rows."""
    return (
        sorted(PromptTemplate.objects.values_list("pk", "is_active")),
        sorted(PromptActivation.objects.values_list("pk", flat=True)),
    )


# New version ------------------------------------------------------------------------------------


def test_new_version_page_is_prefilled_from_the_source_version(operator, intent_v1):
    response = operator.get(url("new_version", intent_v1))
    form = response.context["form"]
    assert response.status_code == 200
    assert form["user_prompt_template"].value() == intent_v1.user_prompt_template
    assert form["model_name"].value() == intent_v1.model_name
    assert form["max_tokens"].value() == intent_v1.max_tokens
    assert '"enum": [' in form["output_schema"].value()  # the schema, indented for editing
    assert form["description"].value() == ""  # what changed is for the operator to say


def test_new_version_form_creates_the_next_version_authored_by_the_operator(operator, intent_v1):
    data = new_version_data(intent_v1, user_prompt_template="Betreff: {{ subject }}", temperature="0.3")
    response = operator.post(url("new_version", intent_v1), data, follow=True)
    v2 = PromptTemplate.objects.get(task_type="classification", name="email_intent", version=2)
    assert response.redirect_chain == [(url("change", v2), 302)]
    assert (v2.created_by, v2.description, v2.is_active) == ("erika", "Kürzere Anweisung", False)
    assert (v2.user_prompt_template, v2.temperature, v2.variables) == ("Betreff: {{ subject }}", 0.3, ["subject"])
    assert v2.output_schema is None
    assert messages_of(response) == [
        ("success", "Created classification.email_intent v2 from v1. It stays inactive until someone activates it.")
    ]


def test_new_version_with_a_template_error_is_a_form_error_and_saves_nothing(operator, intent_v1):
    data = new_version_data(intent_v1, system_prompt="Du bist\n{% if x %}hilfreich")
    response = operator.post(url("new_version", intent_v1), data)
    assert response.status_code == 200
    assert response.context["form"].errors["system_prompt"][0].startswith("Template error on line 2")
    assert "Please correct the errors below." in response.content.decode()
    assert PromptTemplate.objects.filter(name="email_intent").count() == 1


@pytest.mark.parametrize(
    ("schema", "error_start"),
    [('{"type": "nonsense"}', "Not a valid JSON Schema"), ('{"type": ', "Enter a valid JSON")],
)
def test_new_version_with_a_bad_output_schema_is_an_error_on_that_field(operator, intent_v1, schema, error_start):
    response = operator.post(url("new_version", intent_v1), new_version_data(intent_v1, output_schema=schema))
    errors = response.context["form"].errors
    assert list(errors) == ["output_schema"]
    assert errors["output_schema"][0].startswith(error_start)
    assert PromptTemplate.objects.filter(name="email_intent").count() == 1


def test_new_version_needs_a_description_of_what_changed(operator, intent_v1):
    response = operator.post(url("new_version", intent_v1), new_version_data(intent_v1, description=""))
    assert list(response.context["form"].errors) == ["description"]
    assert PromptTemplate.objects.filter(name="email_intent").count() == 1


def test_new_version_action_with_one_row_opens_the_new_version_page(operator, intent_v1):
    response = run_action(operator, "create_new_version", intent_v1)
    assert response.redirect_chain == [(url("new_version", intent_v1), 302)]


def test_new_version_action_with_several_rows_is_refused(operator, intent_v1):
    v2 = make_version(intent_v1)
    response = run_action(operator, "create_new_version", intent_v1, v2)
    assert messages_of(response) == [("error", "Select exactly one version to create a new version from.")]
    assert PromptTemplate.objects.filter(name="email_intent").count() == 2


# Activate -----------------------------------------------------------------------------------------


def test_activate_action_opens_the_confirmation_page_and_changes_nothing(operator, intent_v1):
    v2 = make_version(intent_v1)
    before = database_state()
    response = run_action(operator, "activate", v2)
    assert response.redirect_chain == [(url("activate", v2), 302)]
    assert response.template_name == "admin/prompts/prompttemplate/activate_confirm.html"
    assert database_state() == before


def test_activate_action_with_several_rows_is_refused(operator, intent_v1):
    v2 = make_version(intent_v1)
    before = database_state()
    response = run_action(operator, "activate", intent_v1, v2)
    assert messages_of(response) == [("error", "Select exactly one version to activate.")]
    assert database_state() == before


def test_the_activation_confirmation_shows_the_diff_against_the_active_version(operator, intent_v1):
    v2 = make_version(intent_v1, user_prompt_template=intent_v1.user_prompt_template + "\nAntworte kurz.")
    before = database_state()
    page = operator.get(url("activate", v2)).content.decode()
    assert "Now serving: v1. After this: v2." in page
    assert '<span class="diff-added">+Antworte kurz.</span>' in page
    assert 'value="Activate v2"' in page
    assert database_state() == before


def test_the_activation_confirmation_of_the_active_version_offers_no_button(operator, intent_v1):
    page = operator.get(url("activate", intent_v1)).content.decode()
    assert "v1 is already active." in page
    assert 'value="Activate v1"' not in page


def test_the_activation_confirmation_with_four_eyes_leads_to_a_request_instead(operator, intent_v1, settings):
    settings.PROMPT_FOUR_EYES = True
    v2 = make_version(intent_v1)
    page = operator.get(url("activate", v2)).content.decode()
    assert reverse("admin:prompts_prompttemplate_release", args=[v2.pk, "activate"]) in page
    assert 'value="Activate v2"' not in page


def test_the_activation_confirmation_of_a_version_the_gate_blocks_says_so_and_offers_only_the_override(
    operator, intent_v1, settings
):
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 1}))
    v2 = make_version(intent_v1)
    override = reverse("admin:prompts_prompttemplate_release", args=[v2.pk, "activate"])
    page = operator.get(url("activate", v2)).content.decode()
    assert "v2 is above v1" in page
    assert 'value="Activate v2"' not in page
    assert override not in page  # the operator holds no override permission
    operator.force_login(make_staff_user("olga", *OPERATOR_PERMISSIONS, OVERRIDE_GATE))
    assert override in operator.get(url("activate", v2)).content.decode()


def evidence_for_tests(*, template, active):
    """A PROMPT_ACTIVATION_EVIDENCE supplier: plain text, which the page must escape."""
    return f"<b>v{template.version} against v{active.version}</b>"


def test_the_activation_confirmation_shows_what_the_evidence_suppliers_say(operator, intent_v1, settings):
    # The evaluation app supplies the version's experiment and accuracy (evaluation/tests/test_activation_evidence.py).
    settings.PROMPT_ACTIVATION_EVIDENCE = [f"{__name__}.evidence_for_tests"]
    v2 = make_version(intent_v1)
    page = operator.get(url("activate", v2)).content.decode()
    assert "&lt;b&gt;v2 against v1&lt;/b&gt;" in page


def test_confirming_the_activation_switches_the_active_version_and_writes_an_activation(operator, intent_v1):
    v2 = make_version(intent_v1)
    response = operator.post(url("activate", v2), follow=True)
    assert response.redirect_chain == [(url("change", v2), 302)]
    assert messages_of(response) == [("success", "classification.email_intent v2 is now active (was v1).")]
    v2.refresh_from_db()
    assert v2.is_active
    assert PromptActivation.objects.filter(to_version=v2, from_version=intent_v1, activated_by="erika").exists()


def test_confirming_the_activation_of_the_active_version_only_says_so(operator, intent_v1):
    before = database_state()
    response = operator.post(url("activate", intent_v1), follow=True)
    assert messages_of(response) == [("info", "classification.email_intent v1 is already active.")]
    assert database_state() == before


def test_the_activation_confirmation_is_csrf_protected(intent_v1):
    v2 = make_version(intent_v1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_staff_user("erika", *OPERATOR_PERMISSIONS))
    assert client.post(url("activate", v2)).status_code == 403
    v2.refresh_from_db()
    assert not v2.is_active


# Roll back ----------------------------------------------------------------------------------------

INTENT_ROLLBACK = reverse("admin:prompts_prompttemplate_rollback", args=["classification", "email_intent"])
INTENT_HISTORY = reverse("admin:prompts_prompttemplate_prompt_history", args=["classification", "email_intent"])


def test_roll_back_action_opens_the_confirmation_page_of_that_prompt_and_changes_nothing(operator, intent_v1):
    v2 = make_version(intent_v1)
    prompt_activate(template=v2, activated_by="erika")
    before = database_state()
    response = run_action(operator, "roll_back", v2)
    assert response.redirect_chain == [(INTENT_ROLLBACK, 302)]
    assert database_state() == before


def test_the_roll_back_confirmation_names_the_version_it_reactivates_and_shows_the_diff(operator, intent_v1):
    v2 = make_version(intent_v1, user_prompt_template=intent_v1.user_prompt_template + "\nAntworte kurz.")
    prompt_activate(template=v2, activated_by="erika")
    before = database_state()
    page = operator.get(INTENT_ROLLBACK).content.decode()
    assert "Now serving: v2. After this: v1." in page
    assert '<span class="diff-removed">-Antworte kurz.</span>' in page
    assert 'value="Roll back to v1"' in page
    assert database_state() == before


def test_confirming_the_roll_back_reactivates_the_version_that_was_active_before(operator, intent_v1):
    v2 = make_version(intent_v1)
    v3 = make_version(v2)
    prompt_activate(template=v3, activated_by="erika")
    prompt_activate(template=v2, activated_by="erika")
    prompt_activate(template=v3, activated_by="erika")  # before v3: v2, whatever the version numbers say
    response = operator.post(INTENT_ROLLBACK, follow=True)
    assert response.redirect_chain == [(INTENT_HISTORY, 302)]
    assert messages_of(response) == [("success", "classification.email_intent rolled back to v2 (was v3).")]
    latest = PromptActivation.objects.first()
    assert (latest.kind, latest.from_version, latest.to_version, latest.activated_by) == (
        "rollback", v3, v2, "erika",
    )


def test_a_roll_back_confirmed_after_another_version_became_active_changes_nothing(operator, intent_v1):
    v2 = make_version(intent_v1)
    v3 = make_version(v2)
    prompt_activate(template=v2, activated_by="erika")
    page = operator.get(INTENT_ROLLBACK).content.decode()
    assert '<input type="hidden" name="expected_current" value="2">' in page  # the page shows v2 -> v1
    prompt_activate(template=v3, activated_by="max")  # meanwhile, someone else activates v3
    before = database_state()
    response = operator.post(INTENT_ROLLBACK, {"expected_current": "2"}, follow=True)
    [(level, message)] = messages_of(response)
    assert (level, message) == (
        "error", "Nothing to roll back: v3 became active after the page was opened (it showed v2); "
        "look at the history again before rolling back.",
    )
    assert database_state() == before


def test_the_roll_back_confirmation_with_nothing_to_roll_back_says_why_and_offers_no_button(operator, intent_v1):
    page = operator.get(INTENT_ROLLBACK).content.decode()
    assert "Nothing to roll back: classification.email_intent v1 is the first version" in page
    assert 'value="Roll back' not in page


def test_confirming_a_roll_back_with_nothing_to_roll_back_shows_an_error_message(operator, intent_v1):
    before = database_state()
    response = operator.post(INTENT_ROLLBACK, follow=True)
    [(level, message)] = messages_of(response)
    assert level == "error"
    assert message.startswith("Nothing to roll back: classification.email_intent v1 is the first version")
    assert database_state() == before


def test_roll_back_of_several_prompts_at_once_is_refused(operator, intent_v1):
    body = PromptTemplate.objects.get(task_type="extraction", name="email_body")
    before = database_state()
    response = run_action(operator, "roll_back", intent_v1, body)
    assert messages_of(response) == [("error", "Select versions of exactly one prompt to roll back.")]
    assert database_state() == before


def test_the_roll_back_of_an_unknown_prompt_is_404(operator):
    unknown = reverse("admin:prompts_prompttemplate_rollback", args=["classification", "no_such_prompt"])
    assert operator.get(unknown).status_code == 404
    assert operator.post(unknown).status_code == 404


def test_the_roll_back_button_is_on_the_active_versions_page_and_the_history_page_only(operator, intent_v1):
    v2 = make_version(intent_v1)
    assert INTENT_ROLLBACK in operator.get(url("change", intent_v1)).content.decode()
    assert INTENT_ROLLBACK not in operator.get(url("change", v2)).content.decode()
    assert INTENT_ROLLBACK in operator.get(INTENT_HISTORY).content.decode()


def test_the_version_page_has_one_history_link_and_it_leads_to_the_prompts_history(operator, intent_v1):
    page = operator.get(url("change", intent_v1)).content.decode()
    assert page.count(INTENT_HISTORY) == 1
    assert page.count('class="historylink"') == 1
    assert reverse("admin:prompts_prompttemplate_history", args=[intent_v1.pk]) not in page


# Who may do what ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("view", ["new_version", "activate", "rollback"])
def test_view_only_staff_gets_403_on_the_version_changing_urls(viewer, intent_v1, view, method):
    v2 = make_version(intent_v1)
    prompt_activate(template=v2, activated_by="erika")
    before = database_state()
    data = new_version_data(v2) if method == "post" else None
    address = INTENT_ROLLBACK if view == "rollback" else url(view, v2)
    response = getattr(viewer, method)(address, data)
    assert response.status_code == 403
    assert database_state() == before


@pytest.mark.parametrize("action", ["create_new_version", "activate", "roll_back"])
def test_a_forced_action_post_by_view_only_staff_changes_nothing(viewer, intent_v1, action):
    v2 = make_version(intent_v1)
    prompt_activate(template=v2, activated_by="erika")
    before = database_state()
    response = run_action(viewer, action, intent_v1)
    assert response.redirect_chain == []  # not even the redirect to the new-version page
    assert database_state() == before


def test_a_version_creator_cannot_force_an_activation(client, intent_v1):
    login(client, "carla", VIEW, CREATE_VERSION)
    v2 = make_version(intent_v1)
    before = database_state()
    run_action(client, "activate", v2)
    run_action(client, "roll_back", intent_v1)
    assert client.post(url("activate", v2)).status_code == 403
    assert client.post(INTENT_ROLLBACK).status_code == 403
    assert database_state() == before


def test_an_activator_without_create_permission_cannot_open_the_new_version_page(client, intent_v1):
    login(client, "anton", VIEW, ACTIVATE_VERSION)
    assert client.get(url("new_version", intent_v1)).status_code == 403
    response = client.get(CHANGELIST)
    choices = [name for name, _ in response.context["action_form"].fields["action"].choices if name]
    assert choices == ["activate", "roll_back"]


def test_an_unknown_version_id_is_404_for_an_operator(operator):
    assert operator.get(reverse("admin:prompts_prompttemplate_new_version", args=[999999])).status_code == 404
    assert operator.post(reverse("admin:prompts_prompttemplate_activate", args=[999999])).status_code == 404


def test_a_new_version_from_the_form_is_stored_with_plain_newlines(client, operator):
    v1 = PromptTemplate.objects.get(name="email_intent", version=1)
    response = client.post(
        url("new_version", v1),
        {
            "system_prompt": "", "user_prompt_template": "Zeile 1\r\nBetreff: {{ subject }}",
            "model_name": v1.model_name, "temperature": "0", "max_tokens": "100", "output_schema": "",
            "description": "Windows-Zeilenenden",
        },
    )
    assert response.status_code == 302
    v2 = PromptTemplate.objects.get(name="email_intent", version=2)
    assert v2.user_prompt_template == "Zeile 1\nBetreff: {{ subject }}"
