"""Who may do what in the admin: every page, custom page and action, for every kind of operator.

Roles: staff without permissions, view-only staff (every view permission), a prompt editor (view +
prompts.create_version), an activator (view + prompts.activate_version), an approver (view +
prompts.approve_activation: decides other operators' four-eyes requests), a superuser, and staff holding
prompts.create_version without any view permission ("blind editor": may add a prompt, never see one), and a
reviewer (view + extraction.review_email: works the review workstation). Pages are
checked by HTTP status; writes by their effect on the database, since a refused admin action
answers like an accepted one (a redirect back to the list).
"""

import datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from extraction.models import EmailReview, IncomingEmail, MailboxFailure, MailboxState, ModelPrice
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email
from prompts.models import ActivationRequest, PromptActivation, PromptRollout, PromptTemplate
from prompts.selectors import get_active_prompt
from prompts.services import activation_request, prompt_activate, rollout_start
from prompts.tests.factories import ACTIVATE_VERSION, make_staff_user, make_version
from prompts.tests.validators import gate

pytestmark = pytest.mark.django_db

ROLES = ("nobody", "viewer", "editor", "activator", "approver", "superuser", "blind_editor", "reviewer")
VIEW_PERMISSIONS = [
    "prompts.view_prompttemplate", "prompts.view_promptactivation",
    "prompts.view_activationrequest", "prompts.view_promptrollout",
    "extraction.view_incomingemail", "extraction.view_modelprice",
    "extraction.view_mailboxstate", "extraction.view_mailboxfailure",
    "metrics.view_promptperformancemetrics", "metrics.view_promptperformancedaily",
    "metrics.view_operationalmetrics", "metrics.view_operationalmetricsdaily", "metrics.view_rollupday",
]
ROLE_PERMISSIONS = {
    "nobody": [],
    "viewer": VIEW_PERMISSIONS,
    "editor": [*VIEW_PERMISSIONS, "prompts.create_version"],
    "activator": [*VIEW_PERMISSIONS, "prompts.activate_version"],
    "approver": [*VIEW_PERMISSIONS, "prompts.approve_activation"],
    "blind_editor": ["prompts.create_version"],
    "reviewer": [*VIEW_PERMISSIONS, "extraction.review_email"],
}


@pytest.fixture
def world(settings, tmp_path):
    """What the pages show: the seeded prompt with an inactive v2, an e-mail with a stored PDF, a price."""
    settings.MEDIA_ROOT = tmp_path / "media"
    v1 = get_active_prompt("classification", "email_intent")
    v2 = make_version(v1, user_prompt_template=v1.user_prompt_template + "\nKurz.")
    email = ingest_message(raw_email("statement_with_pdf.eml"))
    IncomingEmail.objects.filter(pk=email.pk).update(status=IncomingEmail.Status.FAILED, error="classify: 529")
    price = ModelPrice.objects.create(
        model_id="claude-test", input_usd_per_mtok=1, output_usd_per_mtok=5, valid_from=datetime.date(2026, 1, 1)
    )
    # A canary of the body prompt, and a pending four-eyes request for the PDF prompt.
    rollout = rollout_start(
        candidate=make_version(get_active_prompt("extraction", "email_body")), percent=20, started_by="setup"
    )
    request = activation_request(
        template=make_version(get_active_prompt("extraction", "pdf_scanned")), reason="Besser lesbar",
        requested_by=make_staff_user("requester", ACTIVATE_VERSION),
    )
    mailbox = MailboxState.objects.create(mailbox="kanzlei@imap.example.org:993/INBOX", last_error="refused")
    failure = MailboxFailure.objects.create(
        mailbox=mailbox, uid_validity=1, uid=4, sha256="0" * 64, size=10, reason="broken MIME structure"
    )
    return {"v1": v1, "v2": v2, "email": email, "attachment": email.attachments.get(), "price": price,
            "activation": PromptActivation.objects.first(), "rollout": rollout, "request": request,
            "mailbox": mailbox, "failure": failure}


def sign_in(client, role):
    if role == "superuser":
        user = User.objects.create_superuser("root", password="unused")
    else:
        user = User.objects.create_user(role, password="unused", is_staff=True)
        for permission in ROLE_PERMISSIONS[role]:
            app_label, codename = permission.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client.force_login(user)
    return client


def admin(name, *args):
    return reverse(f"admin:{name}", args=args)


def expect(nobody, viewer, editor, activator, superuser, *, approver=None, blind_editor=None, reviewer=None):
    """Expected status per role; an approver and a reviewer get what a viewer gets, the blind editor what
    `nobody` gets, unless a row says otherwise."""
    statuses = (
        nobody, viewer, editor, activator, viewer if approver is None else approver, superuser,
        nobody if blind_editor is None else blind_editor, viewer if reviewer is None else reviewer,
    )
    return dict(zip(ROLES, statuses, strict=True))


VIEWERS = expect(403, 200, 200, 200, 200)
NO_ONE = expect(403, 403, 403, 403, 403)

# (page, method, URL from the world, expected status per role)
PAGES = [
    ("prompt list", "get", lambda w: admin("prompts_prompttemplate_changelist"), VIEWERS),
    ("prompt version (read-only)", "get", lambda w: admin("prompts_prompttemplate_change", w["v1"].pk), VIEWERS),
    ("prompt version change post", "post", lambda w: admin("prompts_prompttemplate_change", w["v1"].pk), NO_ONE),
    ("prompt version delete", "get", lambda w: admin("prompts_prompttemplate_delete", w["v1"].pk), NO_ONE),
    ("prompt add page", "get", lambda w: admin("prompts_prompttemplate_add"),
     expect(403, 403, 200, 403, 200, blind_editor=200)),
    ("new-version page", "get", lambda w: admin("prompts_prompttemplate_new_version", w["v1"].pk),
     expect(403, 403, 200, 403, 200, blind_editor=403)),
    ("new-version post", "post", lambda w: admin("prompts_prompttemplate_new_version", w["v1"].pk),
     expect(403, 403, 200, 403, 200, blind_editor=403)),
    ("activation confirmation", "get", lambda w: admin("prompts_prompttemplate_activate", w["v2"].pk),
     expect(403, 403, 403, 200, 200)),
    ("roll-back confirmation", "get",
     lambda w: admin("prompts_prompttemplate_rollback", "classification", "email_intent"),
     expect(403, 403, 403, 200, 200)),
    ("preview", "get", lambda w: admin("prompts_prompttemplate_preview", w["v1"].pk), VIEWERS),
    ("preview post", "post", lambda w: admin("prompts_prompttemplate_preview", w["v1"].pk), VIEWERS),
    ("diff", "get", lambda w: admin("prompts_prompttemplate_diff", w["v2"].pk), VIEWERS),
    ("history", "get", lambda w: admin("prompts_prompttemplate_prompt_history", "classification", "email_intent"),
     VIEWERS),
    ("activation list", "get", lambda w: admin("prompts_promptactivation_changelist"), VIEWERS),
    ("activation (read-only)", "get", lambda w: admin("prompts_promptactivation_change", w["activation"].pk),
     VIEWERS),
    ("activation change post", "post", lambda w: admin("prompts_promptactivation_change", w["activation"].pk),
     NO_ONE),
    ("activation add", "get", lambda w: admin("prompts_promptactivation_add"), NO_ONE),
    ("activation delete", "get", lambda w: admin("prompts_promptactivation_delete", w["activation"].pk), NO_ONE),
    ("e-mail list", "get", lambda w: admin("extraction_incomingemail_changelist"), VIEWERS),
    ("e-mail (read-only)", "get", lambda w: admin("extraction_incomingemail_change", w["email"].pk), VIEWERS),
    ("e-mail change post", "post", lambda w: admin("extraction_incomingemail_change", w["email"].pk), NO_ONE),
    ("e-mail add", "get", lambda w: admin("extraction_incomingemail_add"), NO_ONE),
    ("attachment download", "get", lambda w: admin("extraction_attachment_download", w["attachment"].pk), VIEWERS),
    ("e-mail body download", "get", lambda w: admin("extraction_incomingemail_body", w["email"].pk, "text"), VIEWERS),
    ("e-mail delete page", "get", lambda w: admin("extraction_incomingemail_delete", w["email"].pk),
     expect(403, 403, 403, 403, 200)),
    ("review workstation", "get", lambda w: admin("extraction_incomingemail_review", w["email"].pk),
     expect(403, 403, 403, 403, 200, reviewer=200)),
    ("review workstation post", "post", lambda w: admin("extraction_incomingemail_review", w["email"].pk),
     expect(403, 403, 403, 403, 200, reviewer=200)),
    ("review queue (next e-mail)", "get", lambda w: admin("extraction_incomingemail_review_next"),
     expect(403, 403, 403, 403, 200, reviewer=200)),
    ("review file (inline PDF)", "get",
     lambda w: admin("extraction_incomingemail_review_file", w["email"].pk, w["attachment"].pk),
     expect(403, 403, 403, 403, 200, reviewer=200)),
    ("re-queue all failed (confirmation)", "get", lambda w: admin("extraction_incomingemail_requeue_failed"),
     expect(403, 403, 403, 403, 200)),
    ("e-mail re-queue button by get", "get", lambda w: admin("extraction_incomingemail_requeue", w["email"].pk),
     expect(405, 405, 405, 405, 405)),
    ("e-mail upload page", "get", lambda w: admin("extraction_incomingemail_upload"), expect(403, 403, 403, 403, 200)),
    ("mailbox status list", "get", lambda w: admin("extraction_mailboxstate_changelist"), VIEWERS),
    ("mailbox status (read-only)", "get", lambda w: admin("extraction_mailboxstate_change", w["mailbox"].pk), VIEWERS),
    ("mailbox status change post", "post", lambda w: admin("extraction_mailboxstate_change", w["mailbox"].pk),
     NO_ONE),
    ("mailbox status add", "get", lambda w: admin("extraction_mailboxstate_add"), NO_ONE),
    ("mailbox status delete", "get", lambda w: admin("extraction_mailboxstate_delete", w["mailbox"].pk), NO_ONE),
    ("unreadable message list", "get", lambda w: admin("extraction_mailboxfailure_changelist"), VIEWERS),
    ("unreadable message (read-only)", "get", lambda w: admin("extraction_mailboxfailure_change", w["failure"].pk),
     VIEWERS),
    ("unreadable message delete", "get", lambda w: admin("extraction_mailboxfailure_delete", w["failure"].pk),
     NO_ONE),
    ("model price list", "get", lambda w: admin("extraction_modelprice_changelist"), VIEWERS),
    ("model price add", "get", lambda w: admin("extraction_modelprice_add"), expect(403, 403, 403, 403, 200)),
    ("model price change post", "post", lambda w: admin("extraction_modelprice_change", w["price"].pk),
     expect(403, 403, 403, 403, 200)),
    *[
        (f"{model} list", "get", lambda w, model=model: admin(f"metrics_{model}_changelist"), VIEWERS)
        for model in ("promptperformancemetrics", "promptperformancedaily", "operationalmetrics",
                      "operationalmetricsdaily", "rollupday")
    ],
    *[
        (f"{model} add", "get", lambda w, model=model: admin(f"metrics_{model}_add"), NO_ONE)
        for model in ("promptperformancemetrics", "promptperformancedaily", "operationalmetrics",
                      "operationalmetricsdaily", "rollupday")
    ],
    ("release page (activate)", "get", lambda w: admin("prompts_prompttemplate_release", w["v2"].pk, "activate"),
     expect(403, 403, 403, 200, 200)),
    ("release page (canary)", "get", lambda w: admin("prompts_prompttemplate_release", w["v2"].pk, "canary"),
     expect(403, 403, 403, 200, 200)),
    ("release page of an unknown kind", "get",
     lambda w: admin("prompts_prompttemplate_release", w["v2"].pk, "everything"), expect(403, 403, 403, 404, 404)),
    ("activation request list", "get", lambda w: admin("prompts_activationrequest_changelist"), VIEWERS),
    ("activation request (read-only)", "get", lambda w: admin("prompts_activationrequest_change", w["request"].pk),
     VIEWERS),
    ("activation request change post", "post",
     lambda w: admin("prompts_activationrequest_change", w["request"].pk), NO_ONE),
    ("activation request add", "get", lambda w: admin("prompts_activationrequest_add"), NO_ONE),
    ("activation request delete", "get", lambda w: admin("prompts_activationrequest_delete", w["request"].pk),
     NO_ONE),
    ("activation request decision by get", "get",
     lambda w: admin("prompts_activationrequest_decide", w["request"].pk), expect(403, 405, 405, 405, 405)),
    ("canary list", "get", lambda w: admin("prompts_promptrollout_changelist"), VIEWERS),
    ("canary live comparison", "get", lambda w: admin("prompts_promptrollout_change", w["rollout"].pk), VIEWERS),
    ("canary change post", "post", lambda w: admin("prompts_promptrollout_change", w["rollout"].pk), NO_ONE),
    ("canary add", "get", lambda w: admin("prompts_promptrollout_add"), NO_ONE),
    ("canary delete", "get", lambda w: admin("prompts_promptrollout_delete", w["rollout"].pk), NO_ONE),
    ("canary stop by get", "get", lambda w: admin("prompts_promptrollout_stop", w["rollout"].pk),
     expect(403, 403, 403, 405, 405)),
    ("prompt performance page", "get",
     lambda w: admin("prompt_performance", "classification", "email_intent"), VIEWERS),
    ("operations page", "get", lambda w: admin("operations"), VIEWERS),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("page", "method", "url", "expected"), PAGES, ids=[row[0] for row in PAGES])
def test_each_role_gets_the_expected_answer_from_every_admin_page(client, world, role, page, method, url, expected):
    response = getattr(sign_in(client, role), method)(url(world), {})
    assert response.status_code == expected[role]


# Writes ---------------------------------------------------------------------------------------------

def run_action(client, model, action, *objects):
    return client.post(
        admin(f"{model}_changelist"), {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objects], "index": 0}
    )


def new_version_data(source, description):
    return {
        "description": description, "system_prompt": source.system_prompt,
        "user_prompt_template": source.user_prompt_template + "\nNeu.", "model_name": source.model_name,
        "temperature": "0", "max_tokens": "200", "output_schema": "",
    }


def add_a_prompt(client, w):
    data = {"task_type": "validation", "name": "matrix", **new_version_data(w["v1"], "Neu")}
    client.post(admin("prompts_prompttemplate_add"), data)
    return PromptTemplate.objects.filter(name="matrix").exists()


def create_a_new_version(client, w):
    client.post(admin("prompts_prompttemplate_new_version", w["v1"].pk), new_version_data(w["v1"], "Matrix"))
    return PromptTemplate.objects.filter(name="email_intent", description="Matrix").exists()


def open_the_new_version_page_by_action(client, w):
    response = run_action(client, "prompts_prompttemplate", "create_new_version", w["v1"])
    return response.status_code == 302 and response["Location"].endswith("/new-version/")


def activate_with_the_button(client, w):
    client.post(admin("prompts_prompttemplate_activate", w["v2"].pk))
    return PromptTemplate.objects.get(pk=w["v2"].pk).is_active


def open_the_activation_confirmation_by_action(client, w):
    response = run_action(client, "prompts_prompttemplate", "activate", w["v2"])
    return response.status_code == 302 and response["Location"] == admin("prompts_prompttemplate_activate", w["v2"].pk)


def roll_back_with_the_button(client, w):
    prompt_activate(template=w["v2"], activated_by="setup")
    client.post(admin("prompts_prompttemplate_rollback", "classification", "email_intent"))
    return PromptTemplate.objects.get(pk=w["v1"].pk).is_active


def roll_back_with_the_button_under_four_eyes(client, w, settings):
    settings.PROMPT_FOUR_EYES = True  # a roll-back stays one step: it is the way back
    return roll_back_with_the_button(client, w)


def open_the_roll_back_confirmation_by_action(client, w):
    response = run_action(client, "prompts_prompttemplate", "roll_back", w["v2"])
    return response.status_code == 302 and response["Location"] == admin(
        "prompts_prompttemplate_rollback", "classification", "email_intent"
    )


def start_a_canary(client, w):
    client.post(admin("prompts_prompttemplate_release", w["v2"].pk, "canary"), {"percent": "10", "reason": "Test"})
    return PromptRollout.objects.filter(candidate=w["v2"], state="running").exists()


def stop_a_canary(client, w):
    client.post(admin("prompts_promptrollout_stop", w["rollout"].pk), {"reason": "Matrix"})
    return PromptRollout.objects.get(pk=w["rollout"].pk).state == "stopped"


def promote_a_canary(client, w):
    client.post(admin("prompts_promptrollout_promote", w["rollout"].pk))
    return PromptRollout.objects.get(pk=w["rollout"].pk).state == "promoted"


def approve_a_request(client, w):
    client.post(admin("prompts_activationrequest_decide", w["request"].pk), {"decision": "approve"})
    return ActivationRequest.objects.get(pk=w["request"].pk).status == "approved"


def reject_a_request(client, w):
    client.post(admin("prompts_activationrequest_decide", w["request"].pk), {"decision": "reject", "comment": "No"})
    return ActivationRequest.objects.get(pk=w["request"].pk).status == "rejected"


def request_an_activation_with_four_eyes(client, w, settings):
    settings.PROMPT_FOUR_EYES = True
    client.post(admin("prompts_prompttemplate_release", w["v2"].pk, "activate"), {"reason": "Matrix"})
    return ActivationRequest.objects.filter(template=w["v2"], status="pending").exists()


def activate_with_the_button_under_four_eyes(client, w, settings):
    settings.PROMPT_FOUR_EYES = True
    return activate_with_the_button(client, w)


def override_the_gate(client, w, settings):
    settings.PROMPT_ACTIVATION_VALIDATORS = gate(("MaximumVersionValidator", {"maximum": 1}))
    client.post(
        admin("prompts_prompttemplate_release", w["v2"].pk, "activate"), {"reason": "x", "override_reason": "Urgent"}
    )
    return PromptTemplate.objects.get(pk=w["v2"].pk).is_active


def requeue_by_action(client, w):
    run_action(client, "extraction_incomingemail", "requeue", w["email"])
    return IncomingEmail.objects.get(pk=w["email"].pk).status == IncomingEmail.Status.QUEUED


def requeue_with_the_button(client, w):
    client.post(admin("extraction_incomingemail_requeue", w["email"].pk))
    return IncomingEmail.objects.get(pk=w["email"].pk).status == IncomingEmail.Status.QUEUED


def requeue_all_failed(client, w):
    client.post(admin("extraction_incomingemail_requeue_failed"))
    return IncomingEmail.objects.get(pk=w["email"].pk).status == IncomingEmail.Status.QUEUED


def upload_an_eml_file(client, w):
    eml = raw_email("rejection_windows1252.eml")
    client.post(admin("extraction_incomingemail_upload"), {"files": [SimpleUploadedFile("a.eml", eml)]})
    return IncomingEmail.objects.count() == 2


def review_an_email(client, w):
    client.post(admin("extraction_incomingemail_review", w["email"].pk), {
        "action": "save", "intent": "rejection", "total_claim": "1.234,56", "revision": "0",
    })
    return EmailReview.objects.filter(email=w["email"], total_claim="1234.56").exists()


def add_a_model_price(client, w):
    client.post(admin("extraction_modelprice_add"), {
        "model_id": "claude-matrix", "input_usd_per_mtok": "1", "output_usd_per_mtok": "2", "valid_from": "2027-01-01",
    })
    return ModelPrice.objects.filter(model_id="claude-matrix").exists()


def delete_a_prompt_version_by_action(client, w):
    run_action(client, "prompts_prompttemplate", "delete_selected", w["v2"])
    client.post(admin("prompts_prompttemplate_delete", w["v2"].pk), {"post": "yes"})
    return not PromptTemplate.objects.filter(pk=w["v2"].pk).exists()


def delete_an_activation(client, w):
    client.post(admin("prompts_promptactivation_delete", w["activation"].pk), {"post": "yes"})
    return not PromptActivation.objects.filter(pk=w["activation"].pk).exists()


# (write, the roles for which it takes effect)
WRITES = [
    (add_a_prompt, {"editor", "superuser", "blind_editor"}),
    (create_a_new_version, {"editor", "superuser"}),
    (open_the_new_version_page_by_action, {"editor", "superuser"}),
    (activate_with_the_button, {"activator", "superuser"}),
    (open_the_activation_confirmation_by_action, {"activator", "superuser"}),
    (roll_back_with_the_button, {"activator", "superuser"}),
    (roll_back_with_the_button_under_four_eyes, {"activator", "superuser"}),
    (open_the_roll_back_confirmation_by_action, {"activator", "superuser"}),
    (start_a_canary, {"activator", "superuser"}),
    (stop_a_canary, {"activator", "superuser"}),
    (promote_a_canary, {"activator", "superuser"}),
    (approve_a_request, {"approver", "superuser"}),
    (reject_a_request, {"approver", "superuser"}),
    (request_an_activation_with_four_eyes, {"activator", "superuser"}),
    (activate_with_the_button_under_four_eyes, set()),
    (override_the_gate, {"superuser"}),
    (requeue_by_action, {"superuser"}),
    (requeue_with_the_button, {"superuser"}),
    (requeue_all_failed, {"superuser"}),
    (upload_an_eml_file, {"superuser"}),
    (review_an_email, {"reviewer", "superuser"}),
    (add_a_model_price, {"superuser"}),
    (delete_a_prompt_version_by_action, set()),
    (delete_an_activation, set()),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("write", "allowed"), WRITES, ids=[row[0].__name__ for row in WRITES])
def test_each_write_takes_effect_only_for_the_roles_allowed_to_make_it(
    client, world, settings, role, write, allowed
):
    # A write that needs settings (four-eyes, a gate) takes them as its third argument.
    extra = (settings,) if write.__code__.co_argcount == 3 else ()
    assert write(sign_in(client, role), world, *extra) == (role in allowed)


@pytest.mark.parametrize("role", ROLES)
def test_the_change_page_offers_only_the_buttons_the_role_may_use(client, world, role):
    page = sign_in(client, role).get(admin("prompts_prompttemplate_change", world["v2"].pk)).content.decode()
    new_version = admin("prompts_prompttemplate_new_version", world["v2"].pk)
    activate = admin("prompts_prompttemplate_activate", world["v2"].pk)
    assert (new_version in page) == (role in {"editor", "superuser"})  # the blind editor gets a 403 page
    assert (activate in page) == (role in {"activator", "superuser"})


@pytest.mark.parametrize("role", ROLES)
def test_the_active_versions_page_and_the_history_offer_a_roll_back_only_to_activators(client, world, role):
    client = sign_in(client, role)
    roll_back = admin("prompts_prompttemplate_rollback", "classification", "email_intent")
    version_page = client.get(admin("prompts_prompttemplate_change", world["v1"].pk)).content.decode()
    history = client.get(admin("prompts_prompttemplate_prompt_history", "classification", "email_intent"))
    assert (roll_back in version_page) == (role in {"activator", "superuser"})
    assert (roll_back in history.content.decode()) == (role in {"activator", "superuser"})


@pytest.mark.parametrize("role", ROLES)
def test_with_four_eyes_the_change_page_offers_requests_and_never_a_direct_activation(client, world, settings, role):
    settings.PROMPT_FOUR_EYES = True
    page = sign_in(client, role).get(admin("prompts_prompttemplate_change", world["v2"].pk)).content.decode()
    request = admin("prompts_prompttemplate_release", world["v2"].pk, "activate")
    assert admin("prompts_prompttemplate_activate", world["v2"].pk) not in page
    assert (request in page) == (role in {"activator", "superuser"})


def test_anonymous_visitors_are_sent_to_the_login_page_from_every_page(client, world):
    for page, method, url, _ in PAGES:
        address = url(world)
        if address is None:
            continue
        response = getattr(client, method)(address)
        assert response.status_code == 302 and "/login/" in response["Location"], page
