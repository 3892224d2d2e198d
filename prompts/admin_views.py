"""Custom pages of the prompt admin: new version, activation and roll-back (each confirmed on a page showing
the diff of what would start serving), preview, diff, history of a prompt.

Each page is a function of `(model_admin, request, ...)`, wired up in `PromptTemplateAdmin.get_urls()`
behind `admin_site.admin_view` (staff login, CSRF protection, no caching). Each checks its permission
before looking at the object, so forcing a URL without the permission is a 403 for any id.
Writes go through `prompts.services`, reads through `prompts.selectors`.
"""

import difflib
import json
from dataclasses import dataclass
from operator import attrgetter

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prompts import selectors
from prompts.errors import ActivationBlocked, RollbackUnavailable, TemplateRenderError
from prompts.evidence import activation_evidence
from prompts.forms import DiffOtherVersionForm, NewVersionForm, PreviewForm
from prompts.gate import gate_verdict
from prompts.models import PromptActivation
from prompts.services import OVERRIDE_PERMISSION, prompt_activate, prompt_create_version, prompt_rollback

TEMPLATE_DIR = "admin/prompts/prompttemplate"

NEW_VERSION_FIELDSETS = [
    (None, {"fields": ["description"]}),
    (gettext_lazy("Prompt"), {"fields": ["system_prompt", "user_prompt_template"]}),
    (gettext_lazy("Model settings"), {"fields": ["model_name", "temperature", "max_tokens", "output_schema"]}),
]


def admin_url(view, *args):
    """URL of one of the prompt template admin's pages, e.g. admin_url("preview", pk)."""
    return reverse(f"admin:prompts_prompttemplate_{view}", args=args)


def activation_message(activation):
    """What an operator is told after an activation or rollback, e.g. "... v2 is now active (was v1)"."""
    template = activation.to_version
    values = {"prompt": template.key, "version": template, "number": template.version}
    if activation.from_version_id:
        values["before"] = activation.from_version.version
        if activation.kind == PromptActivation.Kind.ROLLBACK:
            return _("%(prompt)s rolled back to v%(number)s (was v%(before)s).") % values
        return _("%(version)s is now active (was v%(before)s).") % values
    if activation.kind == PromptActivation.Kind.ROLLBACK:
        return _("%(prompt)s rolled back to v%(number)s (no version was active).") % values
    return _("%(version)s is now active (no version was active).") % values


def activate_and_report(model_admin, request, template):
    """Activate `template` for the signed-in operator and say which version it replaced (or why not)."""
    if settings.PROMPT_FOUR_EYES:
        model_admin.message_user(
            request, _(
                "%(version)s was not activated: four-eyes is on. Use “Request activation…” on its page; "
                "another operator approves the request."
            ) % {"version": template}, messages.ERROR,
        )
        return
    try:
        activation = prompt_activate(template=template, activated_by=request.user.get_username())
    except ActivationBlocked as exc:
        if request.user.has_perm("prompts.override_activation_gate"):
            refusal = _(
                "%(version)s was not activated: the activation gate blocks it: %(reasons)s. You may override it "
                "with a reason: “Activate with a reason…” on its page."
            )
        else:
            refusal = _("%(version)s was not activated: the activation gate blocks it: %(reasons)s.")
        model_admin.message_user(request, refusal % {"version": template, "reasons": exc}, messages.ERROR)
        return
    if activation is None:
        model_admin.message_user(request, _("%(version)s is already active.") % {"version": template}, messages.INFO)
    else:
        model_admin.message_user(request, activation_message(activation), messages.SUCCESS)


def new_version_view(model_admin, request, object_id):
    """A form prefilled from a version; submitting it creates the next version, authored by the operator."""
    _require(model_admin.has_create_version_permission(request))
    source = _version_or_404(model_admin, request, object_id)
    form = NewVersionForm(request.POST if request.method == "POST" else None, source=source)
    if form.is_valid():
        created = prompt_create_version(source=source, created_by=request.user.get_username(), **form.cleaned_data)
        model_admin.log_addition(request, created, [{"added": {}}])
        model_admin.message_user(
            request,
            _("Created %(version)s from v%(source)s. It stays inactive until someone activates it.")
            % {"version": created, "source": source.version},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(admin_url("change", created.pk))
    return TemplateResponse(
        request,
        f"{TEMPLATE_DIR}/new_version.html",
        _page_context(
            model_admin, request, original=source,
            title=_("New version of %(prompt)s") % {"prompt": source.key},
            subtitle=_("Based on v%(version)s") % {"version": source.version},
            form=form, adminform=helpers.AdminForm(form, NEW_VERSION_FIELDSETS, {}, model_admin=model_admin),
        ),
    )


def activate_view(model_admin, request, object_id):
    """Confirm an activation: the diff against the active version and the gate's verdict; the form posts back here."""
    _require(model_admin.has_activate_version_permission(request))
    template = _version_or_404(model_admin, request, object_id)
    if request.method == "POST":
        activate_and_report(model_admin, request, template)
        return HttpResponseRedirect(admin_url("change", template.pk))
    active = selectors.active_version(task_type=template.task_type, name=template.name)
    return TemplateResponse(
        request,
        f"{TEMPLATE_DIR}/activate_confirm.html",
        _page_context(
            model_admin, request, original=template, title=_("Activate %(version)s?") % {"version": template},
            four_eyes=settings.PROMPT_FOUR_EYES, gate=gate_verdict(template=template, active=active),
            evidence=activation_evidence(template=template, active=active),
            may_override=request.user.has_perm(OVERRIDE_PERMISSION), **serving_change(active, template),
        ),
    )


def _version_number(text):
    """The version number a confirmation form posted, or None (a form from before the field existed)."""
    return int(text) if (text or "").isdigit() else None


def rollback_view(model_admin, request, task_type, name):
    """Confirm a roll-back of a prompt to the version active before the current one; the form posts back here."""
    _require(model_admin.has_activate_version_permission(request))
    history = admin_url("prompt_history", task_type, name)
    if not selectors.prompt_versions(task_type=task_type, name=name).exists():
        raise Http404(f"No prompt {task_type}.{name}.")
    if request.method == "POST":
        try:
            activation = prompt_rollback(
                task_type=task_type, name=name, activated_by=request.user.get_username(),
                expected_current=_version_number(request.POST.get("expected_current")),
            )
        except RollbackUnavailable as exc:
            model_admin.message_user(request, _("Nothing to roll back: %(reason)s") % {"reason": exc}, messages.ERROR)
        else:
            model_admin.message_user(request, activation_message(activation), messages.SUCCESS)
        return HttpResponseRedirect(history)
    try:
        change, unavailable = serving_change(*selectors.rollback_target(task_type=task_type, name=name)), None
    except RollbackUnavailable as exc:
        change, unavailable = {}, str(exc)
    return TemplateResponse(
        request,
        f"{TEMPLATE_DIR}/rollback_confirm.html",
        _page_context(
            model_admin, request, title=_("Roll back %(prompt)s?") % {"prompt": f"{task_type}.{name}"},
            prompt_key=f"{task_type}.{name}", task_type=task_type, name=name, history_url=history,
            unavailable=unavailable, **change,
        ),
    )


def serving_change(serving, target):
    """What the confirmation pages show: the version serving now, the one that would serve, and their diff."""
    return {
        "serving": serving, "target": target,
        "sections": version_diff(serving, target) if serving is not None and serving != target else [],
    }


def preview_view(model_admin, request, object_id):
    """Render a version with sample variables; render errors are shown on the page, not raised."""
    _require(model_admin.has_view_permission(request))
    template = _version_or_404(model_admin, request, object_id)
    # A version without variables renders straight away: its (empty) form is bound and valid.
    bind = request.method == "POST" or not template.variables
    form = PreviewForm(template.variables, request.POST if bind else None)
    rendered = render_error = None
    if form.is_valid():
        try:
            rendered = template.render(form.variables())
        except TemplateRenderError as exc:
            render_error = str(exc)
    return TemplateResponse(
        request,
        f"{TEMPLATE_DIR}/preview.html",
        _page_context(
            model_admin, request, original=template, title=_("Preview of %(version)s") % {"version": template},
            form=form, rendered=rendered, render_error=render_error,
        ),
    )


def diff_view(model_admin, request, object_id):
    """Compare a version with another version of the same prompt (by default the one before it)."""
    _require(model_admin.has_view_permission(request))
    template = _version_or_404(model_admin, request, object_id)
    others = selectors.prompt_versions(task_type=template.task_type, name=template.name).exclude(pk=template.pk)
    if "other" in request.GET:
        form = DiffOtherVersionForm(others, request.GET)
        other = form.cleaned_data["other"] if form.is_valid() else None
    else:
        other = others.filter(version__lt=template.version).first() or others.first()
        form = DiffOtherVersionForm(others, initial={"other": other})
    older, newer = sorted([template, other], key=attrgetter("version")) if other else (None, None)
    return TemplateResponse(
        request,
        f"{TEMPLATE_DIR}/diff.html",
        _page_context(
            model_admin, request, original=template, title=_("Diff of %(version)s") % {"version": template},
            form=form, older=older, newer=newer, sections=version_diff(older, newer) if other else [],
        ),
    )


def prompt_history_view(model_admin, request, task_type, name):
    """Every version of one prompt and every activation of it, newest first."""
    _require(model_admin.has_view_permission(request))
    versions = list(selectors.prompt_versions(task_type=task_type, name=name))
    if not versions:
        raise Http404(f"No prompt {task_type}.{name}.")
    return TemplateResponse(
        request,
        f"{TEMPLATE_DIR}/prompt_history.html",
        _page_context(
            model_admin, request, title=_("History of %(prompt)s") % {"prompt": versions[0].key},
            prompt_key=versions[0].key,
            active_version=next((version for version in versions if version.is_active), None),
            versions=versions, activations=selectors.prompt_activation_history(task_type=task_type, name=name),
            requests=selectors.prompt_requests(task_type=task_type, name=name),
            rollouts=selectors.prompt_rollouts(task_type=task_type, name=name),
        ),
    )


@dataclass(frozen=True)
class DiffLine:
    kind: str  # a CSS class: diff-header, diff-hunk, diff-added, diff-removed or diff-context
    text: str


@dataclass(frozen=True)
class DiffSection:
    title: str
    lines: list


def version_diff(before, after):
    """Unified diffs, part by part, of what two versions send to the LLM: from `before` to `after`."""
    return [
        DiffSection(title, _unified_diff(text_of(before), text_of(after), f"v{before.version}", f"v{after.version}"))
        for title, text_of in _DIFFED_PARTS
    ]


def _model_settings_text(template):
    return f"model_name: {template.model_name}\ntemperature: {template.temperature}\nmax_tokens: {template.max_tokens}"


def _output_schema_text(template):
    if template.output_schema is None:
        return ""
    return json.dumps(template.output_schema, indent=2, ensure_ascii=False)


_DIFFED_PARTS = (
    (gettext_lazy("System prompt"), attrgetter("system_prompt")),
    (gettext_lazy("User prompt"), attrgetter("user_prompt_template")),
    (gettext_lazy("Model settings"), _model_settings_text),
    (gettext_lazy("Output schema"), _output_schema_text),
)

_LINE_KINDS = (("@@", "diff-hunk"), ("+", "diff-added"), ("-", "diff-removed"))


def _unified_diff(old, new, old_label, new_label):
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), old_label, new_label, lineterm="")
    # The first two lines name the versions ("--- v1", "+++ v2"); a changed line may look like them.
    return [
        DiffLine("diff-header" if index < 2 else _line_kind(line), line) for index, line in enumerate(lines)
    ]


def _line_kind(line):
    return next((kind for prefix, kind in _LINE_KINDS if line.startswith(prefix)), "diff-context")


def _require(allowed):
    if not allowed:
        raise PermissionDenied


def _version_or_404(model_admin, request, object_id):
    template = model_admin.get_object(request, object_id)
    if template is None:
        raise Http404(f"No prompt version with id {object_id!r}.")
    return template


def _page_context(model_admin, request, **context):
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "media": model_admin.media,
        "can_create_version": model_admin.has_create_version_permission(request),
        "can_activate": model_admin.has_activate_version_permission(request),
        **context,
    }
