"""Admin for operators: prompt versions (read-only once saved), their actions and the activation audit.

Viewing needs `view_prompttemplate`; creating a version from an existing one needs that and
`prompts.create_version` (adding a prompt needs only the latter); activating and rolling back need
`prompts.activate_version`. Versions are never changed or deleted here: a change
is a new version. All writes go through `prompts.services`; the custom pages live in `admin_views`.
"""

import json
from functools import update_wrapper

from django.contrib import admin, messages
from django.db.models import Value
from django.db.models.functions import Concat
from django.http import HttpResponseRedirect
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from prompts import admin_release, admin_views
from prompts.forms import PromptTemplateAddForm
from prompts.models import ActivationRequest, PromptActivation, PromptTemplate
from prompts.services import prompt_create_next_version

# Sorting by prompt key: task type, then name (both admins have these two fields).
PROMPT_KEY_ORDERING = Concat("task_type", Value("."), "name")

VERSION_FIELDSETS = [
    (None, {"fields": ["prompt_key", "version", "is_active", "description", "created_by", "created_at"]}),
    (_("Prompt"), {"fields": ["system_prompt_text", "user_prompt_text", "variables_list"]}),
    (_("Model settings"), {"fields": ["model_name", "temperature", "max_tokens", "output_schema_json"]}),
]

ADD_FIELDSETS = [
    (None, {"fields": ["task_type", "name", "description"]}),
    (_("Prompt"), {"fields": ["system_prompt", "user_prompt_template"]}),
    (_("Model settings"), {"fields": ["model_name", "temperature", "max_tokens", "output_schema"]}),
]


def _preformatted(text):
    # Prompt text is operator-written: format_html escapes it; the <pre> keeps its layout.
    return format_html('<pre class="prompt-text">{}</pre>', text) if text else "-"


class PromptActivationInline(admin.TabularInline):
    """When this version was made active, by whom, and which version it replaced."""

    model = PromptActivation
    fk_name = "to_version"
    fields = readonly_fields = ("activated_at", "kind", "activated_by", "from_version")
    verbose_name = _("activation of this version")
    verbose_name_plural = _("activations of this version")
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        # Who activated a version is part of the version's story: whoever may see it, sees this.
        return self.admin_site.get_model_admin(PromptTemplate).has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ("prompt_key", "version", "is_active", "model_name", "created_by", "created_at")
    list_display_links = ("prompt_key",)
    list_filter = ("task_type", "name", "is_active", "model_name")
    search_fields = ("name", "description", "system_prompt", "user_prompt_template", "created_by")
    ordering = ("task_type", "name", "-version")
    actions = ("create_new_version", "activate", "roll_back")
    add_form = PromptTemplateAddForm

    class Media:
        css = {"all": ["prompts/admin.css"]}

    # Permissions --------------------------------------------------------------------------------

    def has_add_permission(self, request):
        return request.user.has_perm("prompts.create_version")

    def has_change_permission(self, request, obj=None):
        # Versions are immutable: the change view is a read-only page for everyone.
        return False

    def has_delete_permission(self, request, obj=None):
        # Versions are the audit trail of what was sent to the LLM; they are never deleted here.
        return False

    def has_create_version_permission(self, request):
        # A new version starts as a copy of an existing one: making it means seeing that one.
        return self.has_view_permission(request) and request.user.has_perm("prompts.create_version")

    def has_activate_version_permission(self, request):
        return request.user.has_perm("prompts.activate_version")

    # Change view (read-only) and add view -------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        return VERSION_FIELDSETS if obj is not None else ADD_FIELDSETS

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [field for _name, options in VERSION_FIELDSETS for field in options["fields"]]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_inlines(self, request, obj):
        return [PromptActivationInline] if obj is not None else []

    def save_model(self, request, obj, form, change):
        # Only the add view saves (existing versions are read-only). The service numbers the
        # version: 1 for a new prompt, the next one if the key already exists.
        created = prompt_create_next_version(created_by=request.user.get_username(), **form.cleaned_data)
        obj.pk = created.pk
        obj.refresh_from_db()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_create_version": self.has_create_version_permission(request),
            "can_activate": self.has_activate_version_permission(request),
            **admin_release.version_release_context(request, self.get_object(request, object_id)),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("Prompt"), ordering=PROMPT_KEY_ORDERING)
    def prompt_key(self, obj):
        return obj.key

    @admin.display(description=_("System prompt"))
    def system_prompt_text(self, obj):
        return _preformatted(obj.system_prompt)

    @admin.display(description=_("User prompt template"))
    def user_prompt_text(self, obj):
        return _preformatted(obj.user_prompt_template)

    @admin.display(description=_("Variables"))
    def variables_list(self, obj):
        if not obj.variables:
            return gettext("None: this prompt is sent as it is.")
        return format_html_join(", ", "<code>{}</code>", ((name,) for name in obj.variables))

    @admin.display(description=_("Output schema"))
    def output_schema_json(self, obj):
        if obj.output_schema is None:
            return gettext("None: the answer is free-form.")
        return _preformatted(json.dumps(obj.output_schema, indent=2, ensure_ascii=False))

    # Custom pages -------------------------------------------------------------------------------

    def get_urls(self):
        def wrap(view):
            def admin_page(request, *args, **kwargs):
                return view(self, request, *args, **kwargs)

            return self.admin_site.admin_view(update_wrapper(admin_page, view))

        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/new-version/", wrap(admin_views.new_version_view), name=f"{info}_new_version"),
            # Before "<path:object_id>/activate/", which would take ".../release/activate/" for itself.
            path(
                "<path:object_id>/release/<str:kind>/", wrap(admin_release.release_view), name=f"{info}_release"
            ),
            path("<path:object_id>/activate/", wrap(admin_views.activate_view), name=f"{info}_activate"),
            path("<path:object_id>/preview/", wrap(admin_views.preview_view), name=f"{info}_preview"),
            path("<path:object_id>/diff/", wrap(admin_views.diff_view), name=f"{info}_diff"),
            path(
                "history/<str:task_type>/<str:name>/",
                wrap(admin_views.prompt_history_view),
                name=f"{info}_prompt_history",
            ),
            path(
                "rollback/<str:task_type>/<str:name>/", wrap(admin_views.rollback_view), name=f"{info}_rollback"
            ),
        ] + super().get_urls()

    # Actions ------------------------------------------------------------------------------------

    @admin.action(description=_("Create a new version from the selected one"), permissions=["create_version"])
    def create_new_version(self, request, queryset):
        template = self._single_version(
            request, queryset, gettext("Select exactly one version to create a new version from.")
        )
        if template is not None:
            return HttpResponseRedirect(admin_views.admin_url("new_version", template.pk))

    # Activation and roll-back change what serves: both actions lead to the confirmation page with the diff.
    @admin.action(description=_("Activate the selected version…"), permissions=["activate_version"])
    def activate(self, request, queryset):
        template = self._single_version(request, queryset, gettext("Select exactly one version to activate."))
        if template is not None:
            return HttpResponseRedirect(admin_views.admin_url("activate", template.pk))

    @admin.action(description=_("Roll back to the previous version…"), permissions=["activate_version"])
    def roll_back(self, request, queryset):
        prompts = set(queryset.values_list("task_type", "name"))
        if len(prompts) != 1:
            self.message_user(
                request, gettext("Select versions of exactly one prompt to roll back."), messages.ERROR
            )
            return None
        return HttpResponseRedirect(admin_views.admin_url("rollback", *prompts.pop()))

    def _single_version(self, request, queryset, refusal):
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, refusal, messages.ERROR)
            return None
        return selected[0]


@admin.register(PromptActivation)
class PromptActivationAdmin(admin.ModelAdmin):
    """The audit trail of activations: read-only for everyone, superusers included."""

    list_display = ("activated_at", "prompt_key", "from_label", "to_label", "kind", "activated_by", "grounds")
    list_filter = ("task_type", "kind")
    search_fields = ("name", "activated_by", "reason", "override_reason")
    list_select_related = ("from_version", "to_version", "request", "rollout")
    date_hierarchy = "activated_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Prompt"), ordering=PROMPT_KEY_ORDERING)
    def prompt_key(self, obj):
        return f"{obj.task_type}.{obj.name}"

    @admin.display(description=_("From"), ordering="from_version__version")
    def from_label(self, obj):
        return f"v{obj.from_version.version}" if obj.from_version_id else "-"

    @admin.display(description=_("To"), ordering="to_version__version")
    def to_label(self, obj):
        return f"v{obj.to_version.version}"

    @admin.display(description=_("On what grounds"))
    def grounds(self, obj):
        """The request and its approver, the canary it ended, the gate's override: why this activation happened."""
        parts = []
        if obj.request_id:
            request = obj.request
            parts.append(gettext("request #%(pk)s by %(requester)s, approved by %(approver)s") % {
                "pk": request.pk, "requester": request.requested_by, "approver": request.decided_by,
            })
        if obj.rollout_id:
            parts.append(gettext("canary #%(pk)s %(state)s") % {
                "pk": obj.rollout_id, "state": obj.rollout.get_state_display().lower(),
            })
        if obj.override_reason:
            parts.append(gettext("gate overridden: %(reason)s") % {"reason": obj.override_reason})
        return "; ".join(parts) or "-"


admin.site.register(ActivationRequest, admin_release.ActivationRequestAdmin)
