"""Operators manage prompt versions in the admin, in a real browser, the way a person would.

Each test signs in through the login form, then clicks links and buttons, fills forms and runs
changelist actions from the dropdown, and checks both what the page says and what the database
holds afterwards. The last test opens every prompt page on a 390 px wide phone screen.
"""

import re
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from playwright.sync_api import expect

from prompts.models import PromptActivation, PromptTemplate
from prompts.services import prompt_activate, prompt_rollback
from prompts.tests.factories import OPERATOR_PERMISSIONS, VIEW, make_staff_user, make_version

# serialized_rollback: transactional tests empty the database; this restores the seeded v1 prompts.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "geheim-123"
TASK_TYPE, NAME = "classification", "email_intent"
KEY = f"{TASK_TYPE}.{NAME}"

# The line of the seeded v1 that the operators in these tests rewrite.
OLD_LINE = "Antworte nur mit JSON:"
NEW_LINE = "Antworte ausschließlich mit JSON, ohne Erklärungen:"
WHY = "Das Modell hat Erklärungen vor das JSON geschrieben."

PHONE_WIDTH = 390
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"  # where the `page` fixture keeps its screenshots


# Helpers ------------------------------------------------------------------------------------------


def staff_user(username, *permissions):
    """A staff user holding exactly `permissions`, who can sign in with PASSWORD."""
    user = make_staff_user(username, *permissions)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


def log_in(page, live_server, username):
    """Open the list of prompt versions, sign in on the login form it leads to, and land back on it."""
    page.goto(admin_url(live_server, "changelist"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#user-tools")).to_contain_text(username)
    expect(page.locator("h1")).to_have_text("Select prompt template to view")


def version(number):
    return PromptTemplate.objects.get(task_type=TASK_TYPE, name=NAME, version=number)


def admin_url(live_server, view, *args):
    return live_server.url + reverse(f"admin:prompts_prompttemplate_{view}", args=args)


def open_changelist(page):
    """Back to the list of prompt versions through the breadcrumbs (or stay there)."""
    heading = page.locator("h1")
    if heading.inner_text() != "Select prompt template to view":
        page.locator(".breadcrumbs").get_by_role("link", name="Prompt templates").click()
    expect(heading).to_have_text("Select prompt template to view")


def changelist_row(page, number):
    """The changelist row of version `number` of the email intent prompt."""
    return (
        page.locator("#result_list tbody tr")
        .filter(has=page.locator("th.field-prompt_key", has_text=KEY))
        .filter(has=page.locator("td.field-version", has_text=re.compile(rf"^\s*{number}\s*$")))
    )


def open_version(page, number):
    """Click through to the read-only page of version `number`."""
    open_changelist(page)
    changelist_row(page, number).get_by_role("link", name=KEY).click()
    expect(page.locator("#content h2").first).to_have_text(f"{KEY} v{number}")


def run_action(page, number, action):
    """Tick the row of version `number`, choose `action` in the dropdown and press Go."""
    changelist_row(page, number).locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label=action)
    page.get_by_role("button", name="Go").click()


def success_message(page):
    return page.locator("ul.messagelist li.success")


def as_shown(message):
    """The admin shows every message through `|capfirst`, so a message starting with a key is capitalised."""
    return message[0].upper() + message[1:]


def active_versions():
    versions = PromptTemplate.objects.filter(task_type=TASK_TYPE, name=NAME, is_active=True)
    return list(versions.values_list("version", flat=True))


def database_state():
    """Everything an operator's action could change: versions, their active flag, the audit rows."""
    return (
        sorted(PromptTemplate.objects.values_list("pk", "is_active")),
        sorted(PromptActivation.objects.values_list("pk", flat=True)),
    )


def with_new_line(text):
    assert text.count(OLD_LINE) == 1
    return text.replace(OLD_LINE, NEW_LINE)


def make_v2():
    """v2 of the email intent prompt, inactive, with OLD_LINE rewritten (made outside the UI)."""
    v1 = version(1)
    return make_version(v1, description=WHY, user_prompt_template=with_new_line(v1.user_prompt_template))


@pytest.fixture
def page(page, live_server):
    """The browser of these tours has chosen English (the header's language switch keeps the choice in a cookie):
    their assertions are English; the German pages are proven by test_german_interface.py."""
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}])
    return page


@pytest.fixture
def sign_in(page, live_server):
    """`sign_in()`: Erika, allowed to view, create and activate versions, signs in; returns her page.

    `sign_in("victor", VIEW)`: someone with exactly the given permissions signs in instead.
    """

    def sign_in(username="erika", *permissions):
        staff_user(username, *(permissions or OPERATOR_PERMISSIONS))
        log_in(page, live_server, username)
        return page

    return sign_in


# Signing in -------------------------------------------------------------------------------------


def test_an_operator_signs_in_through_the_login_form_and_finds_the_seeded_prompts(page, live_server):
    staff_user("erika", *OPERATOR_PERMISSIONS)
    page.goto(f"{live_server.url}/admin/prompts/prompttemplate/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next="))  # not signed in yet

    page.get_by_label("Username").fill("erika")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Straight back to the page she asked for, with the four seeded prompts, each at v1 and active.
    expect(page.locator("h1")).to_have_text("Select prompt template to view")
    expect(page.locator("#user-tools")).to_contain_text("erika")
    keys = page.locator("#result_list tbody th.field-prompt_key").all_inner_texts()
    assert sorted(keys) == [KEY, "extraction.email_body", "extraction.image", "extraction.pdf_scanned"]
    assert set(page.locator("#result_list tbody td.field-version").all_inner_texts()) == {"1"}
    assert set(page.locator("#result_list tbody td.field-is_active img").evaluate_all(
        "images => images.map(image => image.alt)"
    )) == {"True"}


# Creating a new version --------------------------------------------------------------------------


def test_creating_a_new_version_from_v1_saves_an_inactive_v2_authored_by_the_operator(sign_in):
    v1 = version(1)
    page = sign_in()
    open_version(page, 1)
    page.get_by_role("link", name="Create new version from this").click()
    expect(page.locator("h1")).to_have_text(f"New version of {KEY}")

    # The form starts as a copy of v1; Erika rewrites one line and says why.
    editor = page.locator("#id_user_prompt_template")
    assert editor.input_value() == v1.user_prompt_template
    editor.fill(with_new_line(editor.input_value()))
    page.get_by_label("What changed and why").fill(WHY)
    page.get_by_role("button", name="Create version").click()

    expect(success_message(page)).to_have_text(
        f"Created {KEY} v2 from v1. It stays inactive until someone activates it."
    )
    expect(page.locator("#content h2").first).to_have_text(f"{KEY} v2")
    expect(page.locator(".field-user_prompt_text pre")).to_contain_text(NEW_LINE)
    expect(page.get_by_role("link", name="Activate this version…")).to_be_visible()

    v2 = version(2)
    # Browsers send a textarea's line breaks as CRLF; what counts is the text the operator wrote.
    assert v2.user_prompt_template.replace("\r\n", "\n") == with_new_line(v1.user_prompt_template)
    assert (v2.description, v2.created_by, v2.is_active) == (WHY, "erika", False)
    assert (v2.model_name, v2.max_tokens, v2.output_schema) == (v1.model_name, v1.max_tokens, v1.output_schema)
    assert v2.variables == ["subject", "truncated_body"]
    assert active_versions() == [1]


def test_an_invalid_template_shows_its_error_with_the_line_number_and_nothing_is_saved(sign_in):
    page = sign_in()
    # The changelist action leads to the same form as the link on the version page.
    run_action(page, 1, "Create a new version from the selected one")
    expect(page.locator("h1")).to_have_text(f"New version of {KEY}")
    before = database_state()
    editor = page.locator("#id_user_prompt_template")
    field_errors = page.locator(".field-user_prompt_template ul.errorlist")

    # A block that is never closed: Jinja notices at the end of the template, on line 4.
    unclosed_if = "E-Mail:\n{% if subject %}\nBetreff: {{ subject }}\nText: {{ truncated_body }}"
    editor.fill(unclosed_if)
    page.get_by_label("What changed and why").fill("Betreff nur, wenn vorhanden.")
    page.get_by_role("button", name="Create version").click()

    expect(page.locator("p.errornote")).to_have_text("Please correct the errors below.")
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(field_errors).to_have_text(re.compile(
        r"^Template error on line 4: Unexpected end of template\. .*'endif'.* needs to be closed is 'if'\.$"
    ))
    # The operator's text is kept, so it can be fixed rather than retyped.
    assert editor.input_value().replace("\r\n", "\n") == unclosed_if

    # Reaching into Python internals is refused when saving, not only when rendering.
    editor.fill("E-Mail:\nBetreff: {{ subject.__class__ }}\nText: {{ truncated_body }}")
    page.get_by_role("button", name="Create version").click()

    expect(field_errors).to_have_text(
        "Template error on line 2: access to '__class__' is not allowed in a prompt template"
    )
    expect(page.locator("h1")).to_have_text(f"New version of {KEY}")
    assert database_state() == before
    assert PromptTemplate.objects.filter(task_type=TASK_TYPE, name=NAME).count() == 1
    assert not LogEntry.objects.exists()


# Preview ----------------------------------------------------------------------------------------


def test_preview_renders_the_prompt_with_the_sample_variables_and_names_a_missing_one_plainly(sign_in):
    page = sign_in()
    before = database_state()
    open_version(page, 1)
    page.get_by_role("link", name="Preview").click()
    expect(page.locator("h1")).to_have_text(f"Preview of {KEY} v1")

    page.get_by_label("subject").fill("Forderungsaufstellung Az. 4711")
    page.get_by_label("truncated_body").fill("Sehr geehrte Damen und Herren, anbei unsere Aufstellung.")
    page.get_by_role("button", name="Render preview").click()

    user_prompt = page.locator(".module", has=page.locator("h2", has_text="User prompt")).locator("pre.prompt-text")
    expect(user_prompt).to_contain_text("Betreff: Forderungsaufstellung Az. 4711\n")
    expect(user_prompt).to_contain_text("Text: Sehr geehrte Damen und Herren, anbei unsere Aufstellung.\n")
    expect(user_prompt).not_to_contain_text("{{")
    expect(page.locator(".module", has_text="System prompt")).to_contain_text("(no system prompt)")
    expect(page.locator("p.help", has_text="Sent to")).to_have_text(
        "Sent to claude-haiku-4-5-20251001 with temperature 0.0 and at most 100 output tokens."
    )
    expect(page.locator("p.errornote")).to_have_count(0)

    # Leaving a variable empty shows what happens when the pipeline lacks it: a plain message.
    page.get_by_label("truncated_body").fill("")
    page.get_by_role("button", name="Render preview").click()

    expect(page.locator("p.errornote")).to_have_text(
        "Could not render this version: Missing template variable 'truncated_body'."
    )
    expect(user_prompt).to_have_count(0)
    expect(page.get_by_label("subject")).to_have_value("Forderungsaufstellung Az. 4711")
    assert database_state() == before  # previewing writes nothing


# Activating -------------------------------------------------------------------------------------


def assert_v2_replaced_v1():
    assert active_versions() == [2]
    activations = PromptActivation.objects.filter(task_type=TASK_TYPE, name=NAME)  # newest first
    assert activations.count() == 2  # the seed, and this one
    activation = activations.first()
    assert (activation.kind, activation.activated_by) == (PromptActivation.Kind.ACTIVATE, "erika")
    assert (activation.from_version, activation.to_version) == (version(1), version(2))


def confirm_the_activation_of_v2(page):
    """On the confirmation page: the diff against the active v1 is shown; the operator activates v2."""
    expect(page.locator("h1")).to_have_text(f"Activate {KEY} v2?")
    expect(page.locator(".serving-change")).to_contain_text("Now serving: v1. After this: v2.")
    expect(page.locator(".serving-change .diff-removed").filter(has_text=OLD_LINE)).to_have_count(1)
    expect(page.locator(".serving-change .diff-added").filter(has_text=NEW_LINE)).to_have_count(1)
    assert active_versions() == [1]  # nothing changed by looking
    page.get_by_role("button", name="Activate v2").click()


def test_activating_v2_with_the_action_dropdown_asks_for_confirmation_with_the_diff_and_replaces_v1(sign_in):
    make_v2()
    page = sign_in()
    open_changelist(page)
    expect(changelist_row(page, 2).locator("td.field-is_active img")).to_have_attribute("alt", "False")

    run_action(page, 2, "Activate the selected version…")
    confirm_the_activation_of_v2(page)

    expect(success_message(page)).to_have_text(as_shown(f"{KEY} v2 is now active (was v1)."))
    assert_v2_replaced_v1()


def test_activating_v2_from_its_version_page_asks_for_confirmation_with_the_diff_and_replaces_v1(sign_in):
    make_v2()
    page = sign_in()
    open_version(page, 2)

    page.get_by_role("link", name="Activate this version…").click()
    confirm_the_activation_of_v2(page)

    expect(success_message(page)).to_have_text(as_shown(f"{KEY} v2 is now active (was v1)."))
    expect(page.locator("#content h2").first).to_have_text(f"{KEY} v2")
    # It is the active version now, so there is nothing left to activate on its page.
    expect(page.get_by_role("link", name="Activate this version…")).to_have_count(0)
    expect(page.locator(".field-is_active img")).to_have_attribute("alt", "True")
    assert_v2_replaced_v1()


def test_cancelling_the_activation_confirmation_changes_nothing(sign_in):
    make_v2()
    page = sign_in()
    open_version(page, 2)
    before = database_state()

    page.get_by_role("link", name="Activate this version…").click()
    page.locator(".submit-row").get_by_role("link", name="Cancel").click()

    expect(page.locator("#content h2").first).to_have_text(f"{KEY} v2")
    assert database_state() == before


def assert_rolled_back_from_v2_to_v1(v2):
    assert active_versions() == [1]
    rollback = PromptActivation.objects.filter(task_type=TASK_TYPE, name=NAME).first()
    assert (rollback.kind, rollback.activated_by) == (PromptActivation.Kind.ROLLBACK, "erika")
    assert (rollback.from_version, rollback.to_version) == (v2, version(1))


def confirm_the_roll_back_to_v1(page):
    expect(page.locator(".serving-change")).to_contain_text("Now serving: v2. After this: v1.")
    expect(page.locator(".serving-change .diff-added").filter(has_text=OLD_LINE)).to_have_count(1)
    assert active_versions() == [2]  # nothing changed by looking
    page.get_by_role("button", name="Roll back to v1").click()


def test_rolling_back_with_the_action_dropdown_asks_for_confirmation_and_reactivates_v1(sign_in):
    v2 = make_v2()
    prompt_activate(template=v2, activated_by="erika")
    page = sign_in()
    open_changelist(page)

    run_action(page, 2, "Roll back to the previous version…")
    confirm_the_roll_back_to_v1(page)

    expect(success_message(page)).to_have_text(as_shown(f"{KEY} rolled back to v1 (was v2)."))
    assert_rolled_back_from_v2_to_v1(v2)


def test_rolling_back_from_the_history_page_asks_for_confirmation_and_reactivates_v1(sign_in):
    v2 = make_v2()
    prompt_activate(template=v2, activated_by="erika")
    page = sign_in()
    open_version(page, 2)
    page.get_by_role("link", name="History", exact=True).click()
    expect(page.locator("h1")).to_have_text(f"History of {KEY}")

    page.get_by_role("link", name="Roll back from v2…").click()
    confirm_the_roll_back_to_v1(page)

    # Back on the history page, which now lists the roll-back first.
    expect(success_message(page)).to_have_text(as_shown(f"{KEY} rolled back to v1 (was v2)."))
    expect(page.locator("h1")).to_have_text(f"History of {KEY}")
    first_activation = page.locator("table").filter(has=page.locator("caption", has_text="Activations"))
    expect(first_activation.locator("tbody tr").first).to_contain_text("v2 → v1")
    assert_rolled_back_from_v2_to_v1(v2)


# View-only staff --------------------------------------------------------------------------------


def test_view_only_staff_sees_no_way_to_change_prompts_and_a_forced_activation_is_refused(sign_in, live_server):
    v2 = make_v2()
    page = sign_in("victor", VIEW)
    before = database_state()

    open_changelist(page)
    expect(page.locator("select[name=action]")).to_have_count(0)
    expect(page.locator("input.action-select")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Add prompt template", re.IGNORECASE))).to_have_count(0)

    changelist_row(page, 2).get_by_role("link", name=KEY).click()
    expect(page.locator("#content h2").first).to_have_text(f"{KEY} v2")
    tools = page.locator(".prompt-version-tools")
    for reading_only in ("Preview", "Diff with…"):
        expect(tools.get_by_role("link", name=reading_only)).to_be_visible()
    expect(page.locator(".object-tools").get_by_role("link", name="History", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Create new version from this")).to_have_count(0)
    expect(page.get_by_role("link", name="Activate this version…")).to_have_count(0)

    # Victor forges what the hidden button would send, with his session and a valid CSRF token:
    # the server refuses it for lack of permission (not for a CSRF failure).
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    forced = {"form": {"csrfmiddlewaretoken": token}, "headers": {"Origin": live_server.url}}
    forced_urls = (
        admin_url(live_server, "activate", v2.pk), admin_url(live_server, "new_version", v2.pk),
        admin_url(live_server, "rollback", TASK_TYPE, NAME),
    )
    for url in forced_urls:
        response = page.request.post(url, **forced)
        assert response.status == 403, url
        assert "CSRF" not in response.text()
    # Naming the actions in a forged changelist POST does not run them either.
    for action in ("activate", "roll_back", "create_new_version"):
        response = page.request.post(admin_url(live_server, "changelist"), form={
            "csrfmiddlewaretoken": token, "action": action, "_selected_action": str(v2.pk), "index": "0",
        }, headers=forced["headers"])
        assert response.status == 200, action  # just the list again
        assert "is now active" not in response.text() and "rolled back" not in response.text()

    assert database_state() == before
    assert active_versions() == [1]


# Diff and history -------------------------------------------------------------------------------


def test_the_diff_page_marks_the_changed_line_between_v1_and_v2(sign_in):
    v2 = make_v2()
    page = sign_in()
    open_version(page, 1)
    page.get_by_role("link", name="Diff with…").click()

    choice = page.get_by_label("Compare with")
    choice.select_option(label=choice.locator("option", has_text=re.compile(r"^v2 ")).inner_text())
    page.get_by_role("button", name="Compare").click()

    expect(page).to_have_url(re.compile(rf"\?other={v2.pk}$"))
    expect(page.locator("#content-main > p").first).to_have_text(f"Changes from v1 to v2: {WHY}")
    user_prompt = page.locator(".module", has=page.locator("h2", has_text="User prompt"))
    expect(user_prompt.locator(".diff-removed")).to_have_text([f"-{OLD_LINE}"])
    expect(user_prompt.locator(".diff-added")).to_have_text([f"+{NEW_LINE}"])
    expect(user_prompt.locator(".diff-context").first).to_be_visible()
    for title in ("System prompt", "Model settings", "Output schema"):
        expect(page.locator(".module", has=page.locator("h2", has_text=title))).to_contain_text("No changes.")

    # "Marked": removed and added lines have their own background, unlike the unchanged ones.
    def background(locator):
        return locator.first.evaluate("element => getComputedStyle(element).backgroundColor")

    colours = [background(user_prompt.locator(kind)) for kind in (".diff-removed", ".diff-added", ".diff-context")]
    assert len(set(colours)) == 3, colours


def test_the_history_page_lists_every_version_and_every_activation(sign_in):
    v2 = make_v2()
    prompt_activate(template=v2, activated_by="erika")
    prompt_rollback(task_type=TASK_TYPE, name=NAME, activated_by="erika")
    page = sign_in()
    open_version(page, 2)

    page.get_by_role("link", name="History", exact=True).click()

    expect(page.locator("h1")).to_have_text(f"History of {KEY}")
    versions = page.locator("table", has=page.locator("caption", has_text="Versions")).locator("tbody tr")
    expect(versions.locator("th")).to_have_text(["v2", "v1"])  # newest first
    expect(versions.locator("td[data-label=Author]")).to_have_text(["erika", "system_migration"])
    expect(versions.locator("td[data-label=Why]")).to_have_text([WHY, "Initial version, seeded by migration."])
    assert versions.locator("td[data-label=Active] img").evaluate_all("images => images.map(i => i.alt)") == [
        "Inactive", "Active",
    ]
    activations = page.locator("table", has=page.locator("caption", has_text="Activations")).locator("tbody tr")
    expect(activations.locator("td[data-label=Kind]")).to_have_text(["Rolled back", "Activated", "Seeded"])
    expect(activations.locator("td[data-label=Change]")).to_have_text(["v2 → v1", "v1 → v2", "none → v1"])
    expect(activations.locator("td[data-label=Who]")).to_have_text(["erika", "erika", "system_migration"])

    # The rows link on to the versions' own pages.
    versions.first.get_by_role("link", name="v2").click()
    expect(page.locator("#content h2").first).to_have_text(f"{KEY} v2")
    assert Counter(PromptActivation.objects.filter(task_type=TASK_TYPE, name=NAME).values_list("kind", flat=True)) == {
        "rollback": 1, "activate": 1, "seed": 1,
    }


def test_the_activation_audit_lists_who_switched_which_versions(sign_in):
    v2 = make_v2()
    prompt_activate(template=v2, activated_by="erika")
    page = sign_in()
    page.locator(".breadcrumbs").get_by_role("link", name="Prompts").click()
    page.locator("#content-main").get_by_role("link", name="Prompt activations").click()

    rows = page.locator("#result_list tbody tr").filter(has=page.locator("td.field-prompt_key", has_text=KEY))
    expect(rows.first.locator("td.field-from_label")).to_have_text("v1")
    expect(rows.first.locator("td.field-to_label")).to_have_text("v2")
    expect(rows.first.locator("td.field-kind")).to_have_text("Activated")
    expect(rows.first.locator("td.field-activated_by")).to_have_text("erika")
    expect(page.locator("select[name=action]")).to_have_count(0)  # an audit trail: nothing to change


# Phone-sized screens ------------------------------------------------------------------------------

# Each page (the view and its arguments), and the controls an operator needs on it.
PHONE_PAGES = {
    "changelist": (
        lambda v1, v2: ("changelist",),
        lambda page: [page.locator("select[name=action]"), page.get_by_role("button", name="Go")],
    ),
    "version page": (
        lambda v1, v2: ("change", v2.pk),
        lambda page: [
            page.get_by_role("link", name="Create new version from this"),
            page.get_by_role("link", name="Activate this version…"),
            page.get_by_role("link", name="Preview"),
            page.get_by_role("link", name="Diff with…"),
            page.get_by_role("link", name="History", exact=True),
        ],
    ),
    "activation confirmation": (
        lambda v1, v2: ("activate", v2.pk),
        lambda page: [page.locator(".serving-change .diff-added"), page.get_by_role("button", name="Activate v2")],
    ),
    "new-version form": (
        lambda v1, v2: ("new_version", v1.pk),
        lambda page: [page.locator("#id_user_prompt_template"), page.get_by_role("button", name="Create version")],
    ),
    "preview": (
        lambda v1, v2: ("preview", v1.pk),
        lambda page: [page.get_by_label("subject"), page.get_by_role("button", name="Render preview")],
    ),
    "diff": (
        lambda v1, v2: ("diff", v2.pk),
        lambda page: [page.get_by_label("Compare with"), page.get_by_role("button", name="Compare"),
                      page.locator(".diff-added")],
    ),
    "history": (
        lambda v1, v2: ("prompt_history", TASK_TYPE, NAME),
        lambda page: [page.locator("caption", has_text="Versions"), page.get_by_role("link", name="v2")],
    ),
}


def phone_layout_problems(page, name, controls):
    """What keeps an operator from using this page on a phone; a screenshot of it when there is something."""
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE_WIDTH:
        problems.append(f"{name}: the page is {width}px wide and scrolls sideways")
    for control in controls:
        box = control.bounding_box() if control.is_visible() else None
        if box is None or box["x"] < 0 or box["x"] + box["width"] > PHONE_WIDTH:
            problems.append(f"{name}: {control} is not fully on screen ({box})")
    if problems:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"phone-{name.replace(' ', '-')}.png", full_page=True)
    return problems


def test_the_prompt_pages_fit_a_390px_phone_without_horizontal_scrolling(sign_in, live_server):
    v1, v2 = version(1), make_v2()
    page = sign_in()
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})
    problems = []
    for name, (address, controls) in PHONE_PAGES.items():
        page.goto(admin_url(live_server, *address(v1, v2)))
        expect(page.locator("#content")).to_be_visible()
        if name == "preview":  # with a long rendered prompt on the page too
            page.get_by_label("subject").fill("Forderungsaufstellung " * 20)
            page.get_by_label("truncated_body").fill("Sehr geehrte Damen und Herren " * 20)
            page.get_by_role("button", name="Render preview").click()
            expect(page.locator("pre.prompt-text").last).to_contain_text("Forderungsaufstellung")
        problems += phone_layout_problems(page, name, controls(page))
    assert problems == []
