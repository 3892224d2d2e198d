"""Forms of the prompt admin: adding a prompt, deriving a new version, previewing, choosing a diff.

Validation of the templates (`PromptTemplate.clean()`) and of the output schema
(`PromptTemplate.clean_fields()`) lives in the model; the model forms here run it (through
`full_clean`) so each problem becomes an error on the field it belongs to.
"""

import json

from django import forms
from django.forms.fields import InvalidJSONInput
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.formatting import format_number
from prompts import schemas
from prompts.models import PromptTemplate
from prompts.template_language import ALLOWED_LANGUAGE

PROMPT_TEXT_WIDGET = forms.Textarea(attrs={"class": "vLargeTextField prompt-editor", "rows": 14})


class PrettyJSONField(forms.JSONField):
    """A JSON field that shows its value indented, so a schema can be read and edited in a textarea."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            raise forms.ValidationError(_("This JSON is nested too deeply to be a schema."), code="too_deep") from None

    def bound_data(self, data, initial):
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        # A submitted form is shown again with the text as the operator typed it (Django's marker for
        # "show as is"): nothing is lost, and nothing nested too deep is parsed and serialised again.
        return InvalidJSONInput(data)

    def prepare_value(self, value):
        if isinstance(value, InvalidJSONInput):
            return value
        if value is None:
            return ""
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class VersionContentForm(forms.ModelForm):
    """What a version sends to the LLM: prompt texts, model settings and the optional output schema."""

    temperature = forms.FloatField(min_value=0.0, max_value=1.0, initial=0.0, label=_("Temperature"))
    output_schema = PrettyJSONField(
        label=_("Output schema"),
        required=False,
        widget=forms.Textarea(attrs={"class": "vLargeTextField prompt-editor", "rows": 10}),
    )

    class Meta:
        model = PromptTemplate
        fields = PromptTemplate.EDITABLE_FIELDS
        widgets = {
            "system_prompt": PROMPT_TEXT_WIDGET,
            "user_prompt_template": PROMPT_TEXT_WIDGET,
            "model_name": forms.TextInput(attrs={"class": "vTextField"}),
            "description": forms.Textarea(attrs={"class": "vLargeTextField", "rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Help texts with numbers and the template language's description: built per form, in the operator's
        # language. The admin shows help texts as HTML; the language's description contains < and >.
        language = str(ALLOWED_LANGUAGE)
        self.fields["system_prompt"].help_text = escape(
            gettext("Optional system message. %(language)s") % {"language": language}
        )
        self.fields["user_prompt_template"].help_text = escape(
            gettext("The user message, e.g. Betreff: {{ subject }}. %(language)s") % {"language": language}
        )
        self.fields["output_schema"].help_text = gettext(
            "Optional JSON Schema (an object) the answer must match. $ref may only point into this schema "
            "(#/... or #anchor), never to a URL or file, and never back to itself; $id/id and $schema only at "
            "the top; each anchor name once; at most %(values)s values and %(depth)s levels with references "
            "followed, unevaluatedProperties/-Items once; patterns without nested or ambiguous repeats. Leave "
            "empty for free-form answers."
        ) % {
            "values": format_number(schemas.MAX_EXPANDED_SCHEMA_VALUES),
            "depth": format_number(schemas.MAX_EXPANDED_SCHEMA_DEPTH),
        }

    def _clean_prompt_text(self, field):
        # Browsers submit textareas with CRLF line endings; store prompts with the LF they are sent with.
        return self.cleaned_data[field].replace("\r\n", "\n")

    def clean_system_prompt(self):
        return self._clean_prompt_text("system_prompt")

    def clean_user_prompt_template(self):
        return self._clean_prompt_text("user_prompt_template")


class PromptTemplateAddForm(VersionContentForm):
    """The admin's add form: a prompt key plus the content of its first (or next) version."""

    class Meta(VersionContentForm.Meta):
        fields = ("task_type", "name", "description", *PromptTemplate.EDITABLE_FIELDS)


class NewVersionForm(VersionContentForm):
    """The content of a new version, prefilled from the version it is made from."""

    description = forms.CharField(
        label=_("What changed and why"),
        widget=forms.Textarea(attrs={"class": "vLargeTextField", "rows": 3}),
        help_text=_("Shown in the prompt's history, so others know why this version exists."),
    )

    class Meta(VersionContentForm.Meta):
        fields = (*PromptTemplate.EDITABLE_FIELDS, "description")

    def __init__(self, *args, source, **kwargs):
        # An unsaved copy of the source: it prefills the form, and validating it runs the model's
        # template and schema checks without saving anything.
        draft = PromptTemplate(
            task_type=source.task_type,
            name=source.name,
            **{field: getattr(source, field) for field in PromptTemplate.EDITABLE_FIELDS},
        )
        super().__init__(*args, instance=draft, **kwargs)


class PreviewForm(forms.Form):
    """One text field per template variable; an empty field leaves its variable undefined."""

    def __init__(self, variable_names, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in variable_names:
            self.fields[name] = forms.CharField(
                label=name,
                required=False,
                strip=False,
                widget=forms.Textarea(attrs={"class": "vLargeTextField", "rows": 3}),
            )

    def variables(self):
        """The filled-in variables, as the template will see them."""
        return {name: value for name, value in self.cleaned_data.items() if value != ""}


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        values = {
            "version": obj.version, "user": obj.created_by,
            "date": date_format(timezone.localtime(obj.created_at), "SHORT_DATE_FORMAT"),
        }
        if obj.is_active:
            return gettext("v%(version)s (%(date)s by %(user)s, active)") % values
        return gettext("v%(version)s (%(date)s by %(user)s)") % values


class DiffOtherVersionForm(forms.Form):
    """Which other version of the same prompt to compare with."""

    other = VersionChoiceField(queryset=PromptTemplate.objects.none(), label=_("Compare with"), empty_label=None)

    def __init__(self, other_versions, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["other"].queryset = other_versions
