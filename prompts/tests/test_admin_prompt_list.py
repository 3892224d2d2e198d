"""The prompt changelist, the add form, the read-only change view and the read-only activation audit."""

import pytest
from django.urls import reverse

from prompts.models import PromptActivation, PromptTemplate
from prompts.services import prompt_activate
from prompts.tests.factories import make_version

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:prompts_prompttemplate_changelist")
ADD = reverse("admin:prompts_prompttemplate_add")


def listed(response):
    return [(t.key, t.version) for t in response.context["cl"].result_list]


def add_form_data(**overrides):
    return {
        "task_type": "validation",
        "name": "amount_check",
        "description": "Checks that the total matches the items.",
        "system_prompt": "",
        "user_prompt_template": "Prüfe den Betrag {{ amount }}.",
        "model_name": "claude-haiku-4-5-20251001",
        "temperature": "0.0",
        "max_tokens": "512",
        "output_schema": "",
        **overrides,
    }


# Changelist -------------------------------------------------------------------------------------


def test_changelist_shows_the_seeded_prompts_with_key_version_model_and_author(operator):
    response = operator.get(CHANGELIST)
    assert response.status_code == 200
    assert sorted(listed(response)) == [
        ("classification.email_intent", 1), ("extraction.email_body", 1),
        ("extraction.image", 1), ("extraction.pdf_scanned", 1),
    ]
    content = response.content.decode()
    for column in ("Prompt", "Version", "Is active", "Model name", "Created by", "Created at"):
        assert column in content
    assert "claude-sonnet-4-6" in content
    assert "system_migration" in content


def test_changelist_offers_filters_for_task_type_name_active_and_model(operator):
    response = operator.get(CHANGELIST)
    titles = [spec.title for spec in response.context["cl"].filter_specs]
    assert titles == ["task type", "name", "is active", "model name"]


def test_changelist_filters_by_task_type(operator):
    response = operator.get(CHANGELIST, {"task_type__exact": "extraction"})
    keys = {key for key, _ in listed(response)}
    assert keys == {"extraction.email_body", "extraction.pdf_scanned", "extraction.image"}


def test_changelist_filters_inactive_versions(operator, intent_v1):
    make_version(intent_v1)
    response = operator.get(CHANGELIST, {"is_active__exact": "0"})
    assert listed(response) == [("classification.email_intent", 2)]


def test_changelist_search_finds_prompt_text_and_authors(operator, intent_v1):
    make_version(intent_v1, created_by="margarete")
    assert listed(operator.get(CHANGELIST, {"q": "Klassifiziere"})) == [
        ("classification.email_intent", 2), ("classification.email_intent", 1),
    ]
    assert listed(operator.get(CHANGELIST, {"q": "margarete"})) == [("classification.email_intent", 2)]


def test_changelist_lists_each_prompt_newest_version_first(operator, intent_v1):
    make_version(intent_v1)
    first_rows = listed(operator.get(CHANGELIST))[:2]
    assert first_rows == [("classification.email_intent", 2), ("classification.email_intent", 1)]


def test_view_only_staff_is_offered_no_actions_and_no_add_button(viewer):
    response = viewer.get(CHANGELIST)
    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert response.context["has_add_permission"] is False


def test_operator_is_offered_exactly_the_three_version_actions(operator):
    response = operator.get(CHANGELIST)
    choices = [name for name, _ in response.context["action_form"].fields["action"].choices if name]
    assert choices == ["create_new_version", "activate", "roll_back"]


# Add view -----------------------------------------------------------------------------------------


def test_adding_a_prompt_creates_an_inactive_version_1_authored_by_the_operator(operator):
    response = operator.post(ADD, add_form_data())
    created = PromptTemplate.objects.get(task_type="validation", name="amount_check")
    assert response.status_code == 302
    assert (created.version, created.is_active, created.created_by) == (1, False, "erika")
    assert created.variables == ["amount"]


def test_adding_an_existing_prompt_key_creates_its_next_version(operator):
    operator.post(ADD, add_form_data(task_type="classification", name="email_intent", user_prompt_template="{{ x }}"))
    newest = PromptTemplate.objects.filter(task_type="classification", name="email_intent").first()
    assert (newest.version, newest.is_active, newest.user_prompt_template) == (2, False, "{{ x }}")


def test_add_with_a_template_syntax_error_shows_the_line_and_saves_nothing(operator):
    response = operator.post(ADD, add_form_data(user_prompt_template="Betrag:\n{{ amount }\n"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["user_prompt_template"] == ["Template error on line 2: unexpected '}'"]
    assert "Template error on line 2: unexpected &#x27;}&#x27;" in response.content.decode()
    assert not PromptTemplate.objects.filter(name="amount_check").exists()


def test_add_with_an_invalid_json_schema_is_an_error_on_the_schema_field(operator):
    response = operator.post(ADD, add_form_data(output_schema='{"type": "nonsense"}'))
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["output_schema"]
    assert errors["output_schema"][0].startswith("Not a valid JSON Schema")
    assert not PromptTemplate.objects.filter(name="amount_check").exists()


def test_add_with_a_temperature_above_1_is_an_error_on_that_field(operator):
    response = operator.post(ADD, add_form_data(temperature="1.5"))
    assert list(response.context["adminform"].form.errors) == ["temperature"]


def test_view_only_staff_gets_403_on_the_add_page(viewer):
    assert viewer.get(ADD).status_code == 403
    assert viewer.post(ADD, add_form_data()).status_code == 403
    assert not PromptTemplate.objects.filter(name="amount_check").exists()


# Change view (read-only) --------------------------------------------------------------------------


def test_a_version_is_shown_read_only_with_its_text_escaped(operator, intent_v1):
    v2 = make_version(intent_v1, user_prompt_template="<script>alert(1)</script> {{ subject }}")
    response = operator.get(reverse("admin:prompts_prompttemplate_change", args=[v2.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert '<pre class="prompt-text">&lt;script&gt;alert(1)&lt;/script&gt; {{ subject }}</pre>' in content
    assert "<script>alert(1)" not in content
    assert response.context["adminform"].form.fields == {}  # nothing editable
    assert 'name="_save"' not in content


def test_a_version_page_shows_variables_schema_activations_and_links(operator, intent_v1):
    response = operator.get(reverse("admin:prompts_prompttemplate_change", args=[intent_v1.pk]))
    content = response.content.decode()
    assert "<code>subject</code>, <code>truncated_body</code>" in content
    assert '  &quot;type&quot;: &quot;object&quot;,\n' in content  # pretty-printed JSON Schema
    assert "activations of this version" in content.lower()
    assert "system_migration" in content
    for view in ("new_version", "preview", "diff"):
        assert reverse(f"admin:prompts_prompttemplate_{view}", args=[intent_v1.pk]) in content
    assert reverse("admin:prompts_prompttemplate_prompt_history", args=["classification", "email_intent"]) in content


def test_the_activate_button_is_offered_only_on_an_inactive_version(operator, intent_v1):
    v2 = make_version(intent_v1)
    inactive_page = operator.get(reverse("admin:prompts_prompttemplate_change", args=[v2.pk]))
    active_page = operator.get(reverse("admin:prompts_prompttemplate_change", args=[intent_v1.pk]))
    assert "Activate this version" in inactive_page.content.decode()
    assert "Activate this version" not in active_page.content.decode()


def test_posting_changes_to_an_existing_version_is_refused(operator, intent_v1):
    url = reverse("admin:prompts_prompttemplate_change", args=[intent_v1.pk])
    data = add_form_data(task_type="classification", name="email_intent", model_name="claude-opus-4-5-20251101")
    response = operator.post(url, data)
    assert response.status_code == 403
    assert PromptTemplate.objects.get(pk=intent_v1.pk).model_name == intent_v1.model_name


def test_view_only_staff_sees_the_version_but_no_version_buttons(viewer, intent_v1):
    v2 = make_version(intent_v1)
    response = viewer.get(reverse("admin:prompts_prompttemplate_change", args=[v2.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Create new version from this" not in content
    assert "Activate this version" not in content
    assert "Preview" in content


def test_versions_cannot_be_deleted_in_the_admin(admin_client, intent_v1):
    response = admin_client.post(reverse("admin:prompts_prompttemplate_delete", args=[intent_v1.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert PromptTemplate.objects.filter(pk=intent_v1.pk).exists()


# Activation audit ---------------------------------------------------------------------------------


def test_activation_audit_lists_who_switched_which_versions(admin_client, intent_v1):
    v2 = make_version(intent_v1)
    prompt_activate(template=v2, activated_by="erika")
    response = admin_client.get(reverse("admin:prompts_promptactivation_changelist"))
    rows = [(a.kind, a.from_version, a.to_version, a.activated_by) for a in response.context["cl"].result_list]
    assert rows[0] == ("activate", intent_v1, v2, "erika")
    assert len(rows) == 5  # the four seed activations and this one
    titles = [spec.title for spec in response.context["cl"].filter_specs]
    assert titles[:2] == ["task type", "kind"]


def test_activation_audit_is_read_only_even_for_superusers(admin_client):
    activation = PromptActivation.objects.first()
    change_url = reverse("admin:prompts_promptactivation_change", args=[activation.pk])
    assert admin_client.get(reverse("admin:prompts_promptactivation_add")).status_code == 403
    assert admin_client.post(change_url, {"activated_by": "mallory"}).status_code == 403
    delete_url = reverse("admin:prompts_promptactivation_delete", args=[activation.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse("admin:prompts_promptactivation_changelist")).context["action_form"] is None
    activation.refresh_from_db()
    assert activation.activated_by == "system_migration"
