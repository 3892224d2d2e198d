"""Prompt text, descriptions, schemas and authors carry markup as text: every prompt page shows it escaped."""

import pytest
from django.urls import NoReverseMatch, reverse

from prompts.services import prompt_activate, prompt_create_next_version, prompt_create_version

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


@pytest.fixture
def hostile_prompt(db):
    """Two versions of a prompt whose texts, description, schema and authors carry markup; v2 active."""
    v1 = prompt_create_next_version(
        task_type="validation", name="xss", created_by=IMG, description=f"Erste {SCRIPT}",
        system_prompt=f"System {SCRIPT}", user_prompt_template=f"{IMG} {{{{ x }}}} {SCRIPT}",
        model_name="claude-haiku-4-5", output_schema={"type": "object", "description": SCRIPT},
    )
    v2 = prompt_create_version(
        source=v1, created_by=SCRIPT, description=f"Zweite {IMG}", user_prompt_template=f"{SCRIPT} {{{{ x }}}}"
    )
    prompt_activate(template=v1, activated_by=IMG)
    prompt_activate(template=v2, activated_by=SCRIPT)
    return v1, v2


def prompt_pages(v1, v2):
    def admin_url(view, *args):
        return reverse(f"admin:prompts_prompttemplate_{view}", args=args)

    changelist = admin_url("changelist")
    pages = {
        "changelist": changelist,
        "search": changelist + "?q=%3Cscript%3E",
        "change view v1": admin_url("change", v1.pk),
        "change view v2": admin_url("change", v2.pk),
        "new version form": admin_url("new_version", v1.pk),
        "preview": admin_url("preview", v1.pk),
        "diff": admin_url("diff", v2.pk),
        "history": admin_url("prompt_history", "validation", "xss"),
        "activations": reverse("admin:prompts_promptactivation_changelist"),
        "admin index": reverse("admin:index"),
    }
    try:  # the operators' dashboard page about one prompt, where it exists
        pages["performance"] = reverse("admin:prompt_performance", args=["validation", "xss"])
    except NoReverseMatch:
        pass
    return pages


@pytest.mark.django_db
def test_prompt_text_descriptions_and_authors_are_escaped_on_every_prompt_page(admin_client, hostile_prompt):
    for page_name, url in prompt_pages(*hostile_prompt).items():
        response = admin_client.get(url)
        assert response.status_code == 200, page_name
        page = response.content.decode()
        for raw in (SCRIPT, IMG):
            assert raw not in page, f"raw {raw} on the {page_name} page"


@pytest.mark.django_db
@pytest.mark.parametrize("page_name", ["change view v1", "new version form", "diff", "history"])
def test_prompt_pages_show_the_markup_as_escaped_text(admin_client, hostile_prompt, page_name):
    page = admin_client.get(prompt_pages(*hostile_prompt)[page_name]).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.django_db
def test_a_preview_rendering_markup_shows_it_escaped(admin_client, hostile_prompt):
    v1, _ = hostile_prompt
    url = reverse("admin:prompts_prompttemplate_preview", args=[v1.pk])
    page = admin_client.post(url, {"x": IMG}).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt; &lt;img src=x onerror=alert(1)&gt; &lt;script&gt;" in page
    assert SCRIPT not in page and IMG not in page
