"""The read-only pages about prompts: preview, diff between versions, history of a prompt."""

import pytest
from django.urls import reverse

from prompts.models import PromptTemplate
from prompts.services import prompt_activate, prompt_rollback
from prompts.tests.factories import login, make_version

pytestmark = pytest.mark.django_db


# Everything here needs only the view permission: the `viewer` fixture (prompts/tests/conftest.py).


def url(view, template, **query):
    address = reverse(f"admin:prompts_prompttemplate_{view}", args=[template.pk])
    return address + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def history_url(task_type, name):
    return reverse("admin:prompts_prompttemplate_prompt_history", args=[task_type, name])


def diff_lines(response, title):
    [section] = [s for s in response.context["sections"] if s.title == title]
    return [(line.kind, line.text) for line in section.lines]


# Preview ------------------------------------------------------------------------------------------


def test_preview_offers_one_field_per_template_variable(viewer, intent_v1):
    response = viewer.get(url("preview", intent_v1))
    assert response.status_code == 200
    assert list(response.context["form"].fields) == ["subject", "truncated_body"]
    assert response.context["rendered"] is None


def test_preview_renders_the_prompt_with_the_sample_variables_escaped(viewer, intent_v1):
    response = viewer.post(
        url("preview", intent_v1), {"subject": "Forderung <Müller & Co>", "truncated_body": "Sehr geehrte Damen"}
    )
    content = response.content.decode()
    assert response.context["render_error"] is None
    assert "Forderung <Müller & Co>" in response.context["rendered"].user
    assert "Forderung &lt;Müller &amp; Co&gt;" in content
    assert "<Müller" not in content


def test_preview_shows_a_missing_variable_plainly(viewer, intent_v1):
    response = viewer.post(url("preview", intent_v1), {"subject": "Forderung", "truncated_body": ""})
    assert response.status_code == 200
    assert response.context["render_error"] == "Missing template variable 'truncated_body'."
    assert '<p class="errornote">Could not render this version: Missing template variable' in response.content.decode()


def test_preview_shows_a_sandbox_refusal_plainly(viewer, intent_v1):
    greedy = make_version(intent_v1, user_prompt_template="{{ subject * 1000000 }}")
    response = viewer.post(url("preview", greedy), {"subject": "xx"})
    assert response.status_code == 200
    assert response.context["render_error"].startswith("Template refused by the sandbox")


def test_preview_of_a_version_without_variables_renders_at_once(viewer):
    pdf = PromptTemplate.objects.get(task_type="extraction", name="pdf_scanned", version=1)
    response = viewer.get(url("preview", pdf))
    assert response.context["rendered"].user == pdf.user_prompt_template
    assert "This version has no variables" in response.content.decode()


# Diff ---------------------------------------------------------------------------------------------


def test_diff_compares_with_the_previous_version_by_default(viewer, intent_v1):
    v2 = make_version(intent_v1, user_prompt_template=intent_v1.user_prompt_template.replace(
        "Klassifiziere die E-Mail-Intent", "Ordne die E-Mail <genau> ein"), temperature=0.5)
    response = viewer.get(url("diff", v2))
    assert (response.context["older"], response.context["newer"]) == (intent_v1, v2)
    user_diff = diff_lines(response, "User prompt")
    assert user_diff[:2] == [("diff-header", "--- v1"), ("diff-header", "+++ v2")]
    assert ("diff-removed", "-Klassifiziere die E-Mail-Intent in eine der folgenden Kategorien:") in user_diff
    assert ("diff-added", "+Ordne die E-Mail <genau> ein in eine der folgenden Kategorien:") in user_diff
    assert ("diff-added", "+temperature: 0.5") in diff_lines(response, "Model settings")
    assert diff_lines(response, "System prompt") == []
    content = response.content.decode()
    assert '<span class="diff-added">+Ordne die E-Mail &lt;genau&gt; ein' in content
    assert "No changes." in content


def test_diff_compares_with_the_version_chosen_in_the_select(viewer, intent_v1):
    v2 = make_version(intent_v1, model_name="claude-sonnet-4-6")
    v3 = make_version(v2, max_tokens=200)
    response = viewer.get(url("diff", v3, other=intent_v1.pk))
    assert (response.context["older"], response.context["newer"]) == (intent_v1, v3)
    settings_diff = diff_lines(response, "Model settings")
    assert ("diff-added", "+model_name: claude-sonnet-4-6") in settings_diff
    assert ("diff-added", "+max_tokens: 200") in settings_diff
    assert [choice.version for choice in response.context["form"].fields["other"].queryset] == [2, 1]


def test_diff_of_a_first_version_compares_with_the_newest_one(viewer, intent_v1):
    make_version(intent_v1)
    v3 = make_version(intent_v1)
    response = viewer.get(url("diff", intent_v1))
    assert (response.context["older"], response.context["newer"]) == (intent_v1, v3)


def test_diff_of_the_only_version_says_there_is_nothing_to_compare(viewer, intent_v1):
    response = viewer.get(url("diff", intent_v1))
    assert response.status_code == 200
    assert "is the only version of this prompt" in response.content.decode()


def test_diff_with_a_version_of_another_prompt_is_a_form_error(viewer, intent_v1):
    body = PromptTemplate.objects.get(task_type="extraction", name="email_body")
    response = viewer.get(url("diff", intent_v1, other=body.pk))
    assert response.status_code == 200
    assert response.context["form"].errors["other"]
    assert response.context["sections"] == []


# History ------------------------------------------------------------------------------------------


def test_history_lists_every_version_and_every_activation(viewer, intent_v1):
    v2 = make_version(intent_v1, created_by="erika", description="Kürzer <und> klarer")
    prompt_activate(template=v2, activated_by="erika")
    prompt_rollback(task_type="classification", name="email_intent", activated_by="anton")
    response = viewer.get(history_url("classification", "email_intent"))
    assert response.status_code == 200
    assert [v.version for v in response.context["versions"]] == [2, 1]
    assert [(a.kind, a.from_version, a.to_version, a.activated_by) for a in response.context["activations"]] == [
        ("rollback", v2, intent_v1, "anton"),
        ("activate", intent_v1, v2, "erika"),
        ("seed", None, intent_v1, "system_migration"),
    ]
    content = response.content.decode()
    assert "Kürzer &lt;und&gt; klarer" in content
    assert "v2 → v1" in content and "none → v1" in content
    assert url("preview", v2) in content and url("diff", v2) in content


def test_history_of_an_unknown_prompt_is_404(viewer):
    assert viewer.get(history_url("classification", "no_such_prompt")).status_code == 404


# Who may look -------------------------------------------------------------------------------------


def test_staff_without_view_permission_gets_403_on_preview_diff_and_history(client, intent_v1):
    login(client, "nobody")
    assert client.get(url("preview", intent_v1)).status_code == 403
    assert client.post(url("preview", intent_v1), {"subject": "x"}).status_code == 403
    assert client.get(url("diff", intent_v1)).status_code == 403
    assert client.get(history_url("classification", "email_intent")).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(client, intent_v1):
    response = client.get(url("preview", intent_v1))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
