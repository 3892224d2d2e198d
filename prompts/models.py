"""Versioned LLM prompts and the audit trail of their activations."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from jinja2 import TemplateSyntaxError

from prompts import rendering, schemas
from prompts.errors import ImmutableVersionError


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str


class PromptTemplateManager(models.Manager):
    def get_by_natural_key(self, task_type, name, version):
        return self.get(task_type=task_type, name=name, version=version)


class PromptTemplate(models.Model):
    """One immutable version of a prompt; `(task_type, name)` identifies the prompt."""

    class TaskType(models.TextChoices):
        CLASSIFICATION = "classification", _("Classification")
        EXTRACTION = "extraction", _("Extraction")
        VALIDATION = "validation", _("Validation")

    # Everything a version sends to the LLM. Saved once, never changed: a change is a new version.
    IMMUTABLE_FIELDS = (
        "task_type", "name", "version", "system_prompt", "user_prompt_template",
        "model_name", "temperature", "max_tokens", "output_schema", "created_by", "description",
    )
    # What a new version may change relative to the one it is made from.
    EDITABLE_FIELDS = (
        "system_prompt", "user_prompt_template", "model_name", "temperature", "max_tokens", "output_schema",
    )

    task_type = models.CharField(_("task type"), max_length=20, choices=TaskType.choices)
    name = models.SlugField(
        _("name"), max_length=100, help_text=_("Prompt name within its task type, e.g. email_intent.")
    )
    version = models.PositiveIntegerField(_("version"), editable=False)
    system_prompt = models.TextField(_("system prompt"), blank=True, help_text=_("Optional system message (Jinja2)."))
    user_prompt_template = models.TextField(
        _("user prompt template"), help_text=_("The user message (Jinja2, e.g. {{ subject }}).")
    )
    is_active = models.BooleanField(_("is active"), default=False, editable=False)
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    description = models.TextField(_("description"), blank=True, help_text=_("What changed in this version and why."))
    model_name = models.CharField(
        _("model name"), max_length=100, help_text=_("Anthropic model id, e.g. claude-sonnet-4-6.")
    )
    temperature = models.FloatField(_("temperature"), default=0.0)
    max_tokens = models.PositiveIntegerField(_("max tokens"), default=1024)
    output_schema = models.JSONField(
        _("output schema"), null=True, blank=True,
        help_text=_("Optional JSON Schema; when set, the answer must match it."),
    )
    variables = models.JSONField(
        _("variables"), default=list, editable=False, help_text=_("Variables the templates expect, found when saved.")
    )

    objects = PromptTemplateManager()

    class Meta:
        verbose_name = _("prompt template")
        verbose_name_plural = _("prompt templates")
        ordering = ["task_type", "name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["task_type", "name", "version"], name="prompt_version_unique"),
            models.UniqueConstraint(
                fields=["task_type", "name"], condition=Q(is_active=True), name="prompt_one_active_version"
            ),
            models.CheckConstraint(condition=Q(version__gt=0), name="prompt_version_positive"),
            models.CheckConstraint(
                condition=Q(temperature__gte=0) & Q(temperature__lte=1), name="prompt_temperature_0_to_1"
            ),
            models.CheckConstraint(condition=Q(max_tokens__gt=0), name="prompt_max_tokens_positive"),
        ]
        permissions = [
            ("create_version", "Can create a new version of a prompt"),
            ("activate_version", "Can activate or roll back a prompt version"),
        ]

    def __str__(self):
        return f"{self.key} v{self.version}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            self._refuse_content_changes()
        self.variables = sorted(
            set(rendering.template_variables(self.system_prompt))
            | set(rendering.template_variables(self.user_prompt_template))
        )
        super().save(*args, **kwargs)

    def natural_key(self):
        # Fixtures refer to versions as (task_type, name, version), so they load beside the seeded v1s.
        return (self.task_type, self.name, self.version)

    @property
    def key(self):
        return f"{self.task_type}.{self.name}"

    def clean_fields(self, exclude=None):
        # The output schema is checked here, before the JSON field's own check: that one serialises
        # the value recursively and would crash on a schema nested thousands of levels deep.
        errors = {}
        exclude = set(exclude or ())
        if "output_schema" not in exclude and self.output_schema is not None:
            try:
                schemas.check_output_schema(self.output_schema)
            except schemas.InvalidOutputSchema as exc:
                errors["output_schema"] = [ValidationError(capfirst(str(exc)), code="output_schema")]
                exclude.add("output_schema")
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def clean(self):
        errors = {}
        for field in ("system_prompt", "user_prompt_template"):
            try:
                rendering.check_template(getattr(self, field))
            except TemplateSyntaxError as exc:
                errors[field] = ValidationError(
                    _("Template error on line %(line)s: %(message)s"),
                    code="template_syntax",
                    params={"line": exc.lineno, "message": exc.message},
                )
        if errors:
            raise ValidationError(errors)

    def _refuse_content_changes(self):
        stored = type(self).objects.filter(pk=self.pk).values(*self.IMMUTABLE_FIELDS).first()
        if stored is None:
            return
        changed = [f for f in self.IMMUTABLE_FIELDS if stored[f] != getattr(self, f)]
        if changed:
            raise ImmutableVersionError(
                f"{self} is immutable; create a new version instead of changing {', '.join(changed)}."
            )

    def render(self, variables):
        """Render the system and user prompt with `variables` (raises TemplateRenderError)."""
        return RenderedPrompt(
            system=rendering.render_template(self.system_prompt, variables) if self.system_prompt else "",
            user=rendering.render_template(self.user_prompt_template, variables),
        )


class PromptActivationManager(models.Manager):
    def get_by_natural_key(self, task_type, name, kind, activated_at):
        if kind == PromptActivation.Kind.SEED:
            # A prompt is seeded once, so its seed is found whenever it happened (the demo re-dates it).
            return self.get(task_type=task_type, name=name, kind=kind)
        return self.get(task_type=task_type, name=name, kind=kind, activated_at=activated_at)


class PromptActivation(models.Model):
    """Audit row: who made which version of a prompt active, when, which version it replaced, and on what grounds
    (the request and its approval, the activation gate's verdict or its override, the canary it ended)."""

    class Kind(models.TextChoices):
        ACTIVATE = "activate", _("Activated")
        ROLLBACK = "rollback", _("Rolled back")
        SEED = "seed", _("Seeded")
        PROMOTE = "promote", _("Promoted from a canary")

    task_type = models.CharField(_("task type"), max_length=20, choices=PromptTemplate.TaskType.choices)
    name = models.SlugField(_("name"), max_length=100)
    from_version = models.ForeignKey(
        PromptTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("from version"),
    )
    to_version = models.ForeignKey(
        PromptTemplate, on_delete=models.PROTECT, related_name="activations", verbose_name=_("to version")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    activated_by = models.CharField(_("activated by"), max_length=150)
    activated_at = models.DateTimeField(_("activated at"), default=timezone.now)
    reason = models.TextField(
        _("reason"), blank=True, help_text=_("Why: the request's reason, or the canary monitor's.")
    )
    request = models.ForeignKey(
        "ActivationRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="activations",
        verbose_name=_("request"), help_text=_("The approved request this activation applied (four-eyes)."),
    )
    rollout = models.ForeignKey(
        "PromptRollout", null=True, blank=True, on_delete=models.PROTECT, related_name="activations",
        verbose_name=_("rollout"), help_text=_("The canary this activation promoted or ended."),
    )
    gate = models.JSONField(
        _("gate"), default=dict, blank=True,
        help_text=_("The activation validators' verdict: what passed, what was overridden."),
    )
    override_reason = models.TextField(
        _("override reason"), blank=True, help_text=_("Why the activation gate was overridden.")
    )

    objects = PromptActivationManager()

    class Meta:
        verbose_name = _("prompt activation")
        verbose_name_plural = _("prompt activations")
        ordering = ["-activated_at", "-id"]
        indexes = [models.Index(fields=["task_type", "name", "-activated_at"], name="prompt_activation_key_idx")]

    def __str__(self):
        source = f"v{self.from_version.version}" if self.from_version_id else gettext("nothing")
        return gettext("%(prompt)s: %(source)s → v%(version)s by %(user)s") % {
            "prompt": f"{self.task_type}.{self.name}", "source": source, "version": self.to_version.version,
            "user": self.activated_by,
        }

    def natural_key(self):
        # Fixtures (the demo) find a prompt's seed activation by this, to date it as of the demo's start.
        return (self.task_type, self.name, self.kind, self.activated_at)

class ActivationRequest(models.Model):
    """Four-eyes: one operator asks for an activation (or a canary), another approves or rejects it."""

    class Kind(models.TextChoices):
        ACTIVATE = "activate", _("Activation")
        CANARY = "canary", _("Canary")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    task_type = models.CharField(
        _("task type"), max_length=20, choices=PromptTemplate.TaskType.choices, editable=False
    )
    name = models.SlugField(_("name"), max_length=100, editable=False)
    template = models.ForeignKey(
        PromptTemplate, on_delete=models.PROTECT, related_name="activation_requests", verbose_name=_("template")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.ACTIVATE)
    percent = models.PositiveSmallIntegerField(
        _("percent"), null=True, blank=True,
        help_text=_("Canary only: the share of e-mails (1–50 %) the version serves."),
    )
    reason = models.TextField(_("reason"), help_text=_("Why this version should serve."))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.CharField(_("requested by"), max_length=150)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_comment = models.TextField(_("decision comment"), blank=True)

    class Meta:
        verbose_name = _("activation request")
        verbose_name_plural = _("activation requests")
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open question per prompt at a time: approvers never choose between rival requests.
            models.UniqueConstraint(
                fields=["task_type", "name"], condition=Q(status="pending"), name="prompt_one_pending_request"
            ),
            # The four-eyes rule itself: nobody approves their own request, whatever their permissions.
            models.CheckConstraint(
                condition=~Q(status="approved") | ~Q(decided_by=models.F("requested_by")),
                name="prompt_request_not_self_approved",
            ),
            models.CheckConstraint(
                condition=Q(kind="canary", percent__gte=1, percent__lte=50) | Q(kind="activate", percent__isnull=True),
                name="prompt_request_percent_for_canary_only",
            ),
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True)
                | (~Q(status="pending") & Q(decided_at__isnull=False) & ~Q(decided_by="")),
                name="prompt_request_decided_unless_pending",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="prompt_request_has_reason"),
        ]
        permissions = [
            ("approve_activation", "Can approve or reject another operator's activation or canary request"),
            ("override_activation_gate", "Can activate a version the activation gate blocks, giving a reason"),
        ]

    def __str__(self):
        values = {
            "pk": self.pk, "version": self.template, "percent": self.percent, "user": self.requested_by,
            "status": self.get_status_display().lower(),
        }
        if self.kind == self.Kind.CANARY:
            return gettext("Request #%(pk)s: canary of %(version)s at %(percent)s %% by %(user)s (%(status)s)") % values
        return gettext("Request #%(pk)s: %(version)s by %(user)s (%(status)s)") % values


class PromptRollout(models.Model):
    """A canary: `candidate` serves `percent` % of the e-mails (a stable choice per e-mail) beside the active
    `baseline`, until the monitor or an operator rolls it back, promotes it or stops it."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        PROMOTED = "promoted", _("Promoted")
        ROLLED_BACK = "rolled_back", _("Rolled back")
        STOPPED = "stopped", _("Stopped")

    task_type = models.CharField(
        _("task type"), max_length=20, choices=PromptTemplate.TaskType.choices, editable=False
    )
    name = models.SlugField(_("name"), max_length=100, editable=False)
    baseline = models.ForeignKey(
        PromptTemplate, on_delete=models.PROTECT, related_name="+", verbose_name=_("baseline")
    )
    candidate = models.ForeignKey(
        PromptTemplate, on_delete=models.PROTECT, related_name="rollouts", verbose_name=_("candidate")
    )
    percent = models.PositiveSmallIntegerField(
        _("percent"), help_text=_("Share of e-mails (1–50 %) the candidate serves.")
    )
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.RUNNING)
    reason = models.TextField(_("reason"), blank=True, help_text=_("Why the canary was started."))
    started_by = models.CharField(_("started by"), max_length=150)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    request = models.ForeignKey(
        ActivationRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="rollouts",
        verbose_name=_("request"),
    )
    gate = models.JSONField(_("gate"), default=dict, blank=True)
    override_reason = models.TextField(_("override reason"), blank=True)
    ended_by = models.CharField(_("ended by"), max_length=150, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_reason = models.TextField(_("end reason"), blank=True)
    figures = models.JSONField(
        _("figures"), null=True, blank=True,
        help_text=_("Both arms' figures when it ended (calls, failures, cost, evidence)."),
    )

    class Meta:
        verbose_name = _("canary rollout")
        verbose_name_plural = _("canary rollouts")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task_type", "name"], condition=Q(state="running"), name="prompt_one_running_rollout"
            ),
            models.CheckConstraint(condition=Q(percent__gte=1, percent__lte=50), name="prompt_rollout_percent_1_to_50"),
            models.CheckConstraint(
                condition=~Q(candidate=models.F("baseline")), name="prompt_rollout_candidate_is_not_baseline"
            ),
            models.CheckConstraint(
                condition=Q(state="running", ended_at__isnull=True)
                | (Q(state__in=["promoted", "rolled_back", "stopped"]) & Q(ended_at__isnull=False)),
                name="prompt_rollout_ended_unless_running",
            ),
        ]

    def __str__(self):
        return gettext("Canary of %(candidate)s at %(percent)s %% beside v%(baseline)s") % {
            "candidate": self.candidate, "percent": self.percent, "baseline": self.baseline.version,
        }

    @property
    def share(self):
        return self.percent / 100
