"""Versioned LLM prompts and the audit trail of their activations."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst
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
        CLASSIFICATION = "classification", "Classification"
        EXTRACTION = "extraction", "Extraction"
        VALIDATION = "validation", "Validation"

    # Everything a version sends to the LLM. Saved once, never changed: a change is a new version.
    IMMUTABLE_FIELDS = (
        "task_type", "name", "version", "system_prompt", "user_prompt_template",
        "model_name", "temperature", "max_tokens", "output_schema", "created_by", "description",
    )
    # What a new version may change relative to the one it is made from.
    EDITABLE_FIELDS = (
        "system_prompt", "user_prompt_template", "model_name", "temperature", "max_tokens", "output_schema",
    )

    task_type = models.CharField(max_length=20, choices=TaskType.choices)
    name = models.SlugField(max_length=100, help_text="Prompt name within its task type, e.g. email_intent.")
    version = models.PositiveIntegerField(editable=False)
    system_prompt = models.TextField(blank=True, help_text="Optional system message (Jinja2).")
    user_prompt_template = models.TextField(help_text="The user message (Jinja2, e.g. {{ subject }}).")
    is_active = models.BooleanField(default=False, editable=False)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    description = models.TextField(blank=True, help_text="What changed in this version and why.")
    model_name = models.CharField(max_length=100, help_text="Anthropic model id, e.g. claude-sonnet-4-6.")
    temperature = models.FloatField(default=0.0)
    max_tokens = models.PositiveIntegerField(default=1024)
    output_schema = models.JSONField(
        null=True, blank=True, help_text="Optional JSON Schema; when set, the answer must match it."
    )
    variables = models.JSONField(
        default=list, editable=False, help_text="Variables the templates expect, found when saved."
    )

    objects = PromptTemplateManager()

    class Meta:
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
                    "Template error on line %(line)s: %(message)s",
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
    """Audit row: who made which version of a prompt active, when, and which version it replaced."""

    class Kind(models.TextChoices):
        ACTIVATE = "activate", "Activated"
        ROLLBACK = "rollback", "Rolled back"
        SEED = "seed", "Seeded"

    task_type = models.CharField(max_length=20, choices=PromptTemplate.TaskType.choices)
    name = models.SlugField(max_length=100)
    from_version = models.ForeignKey(
        PromptTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_version = models.ForeignKey(PromptTemplate, on_delete=models.PROTECT, related_name="activations")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    activated_by = models.CharField(max_length=150)
    activated_at = models.DateTimeField(default=timezone.now)

    objects = PromptActivationManager()

    class Meta:
        ordering = ["-activated_at", "-id"]
        indexes = [models.Index(fields=["task_type", "name", "-activated_at"], name="prompt_activation_key_idx")]

    def __str__(self):
        source = f"v{self.from_version.version}" if self.from_version_id else "nothing"
        return f"{self.task_type}.{self.name}: {source} → v{self.to_version.version} by {self.activated_by}"

    def natural_key(self):
        # Fixtures (the demo) find a prompt's seed activation by this, to date it as of the demo's start.
        return (self.task_type, self.name, self.kind, self.activated_at)
