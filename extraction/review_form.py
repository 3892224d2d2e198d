"""The review workstation's form: the intent and the nine facts as an operator types them, in German.

Amounts are read by the same parser as the model's answers (`extraction.normalise`): `1.234,56`,
`1234,56 €`, `EUR 1.234,56`, plain `1234.56`; never negative, at most two decimals. Dates: `31.12.2025`,
`31.12.25`, `2025-12-31`. Anything else is a form error on its field, and nothing is saved.
"""

import datetime
from decimal import Decimal

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from extraction import normalise
from extraction.models import Intent
from extraction.scoring import REVIEW_FIELDS

# Which button sent the form (the buttons' name="action").
CONFIRM, SAVE, SKIP, TAKE_OVER = "confirm", "save", "skip", "take_over"


def german_amount(value):
    """Decimal("1234.56") -> "1.234,56" (how the letters write it, and how the form shows it)."""
    return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def german_date(value):
    return value.strftime("%d.%m.%Y")


def display_value(value):
    """A fact as the workstation shows it: German amounts and dates, yes/no, "–" for nothing."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, Decimal):
        return german_amount(value)
    if isinstance(value, datetime.date):
        return german_date(value)
    return str(value)


class GermanValueField(forms.CharField):
    """A value an operator types as text and `parse` reads (ValueError when it cannot); None when left empty."""

    placeholder = ""
    input_attrs = {}

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)
        self.widget.attrs.update({"autocomplete": "off", "placeholder": self.placeholder, **self.input_attrs})

    def parse(self, text):
        raise NotImplementedError

    def error_message(self, reason):
        raise NotImplementedError

    def clean(self, value):
        text = super().clean(value)
        if not text:
            return None
        try:
            return self.parse(text)
        except ValueError as exc:
            raise forms.ValidationError(self.error_message(str(exc)), code="invalid") from None


class GermanAmountField(GermanValueField):
    """An amount in EUR typed the German way (or plainly); cleans to a Decimal with 2 places, or None."""

    placeholder = "1.234,56"
    input_attrs = {"inputmode": "decimal"}

    def prepare_value(self, value):
        return german_amount(value) if isinstance(value, Decimal) else value

    def parse(self, text):
        return normalise.parse_claim_amount(text)

    def error_message(self, reason):
        if reason.startswith("a negative amount"):
            return _("An amount cannot be negative.")
        if reason.startswith("more than two decimals"):
            return _("At most two decimals (cents).")
        if reason.startswith("not a plausible amount"):
            return _("That amount is too large.")
        return _("Not an amount: type e.g. 1.234,56 or 1234,56 €.")


class GermanDateField(GermanValueField):
    """A date typed as 31.12.2025 (or 31.12.25, or 2025-12-31); cleans to a date, or None."""

    placeholder = "31.12.2025"

    def prepare_value(self, value):
        return german_date(value) if isinstance(value, datetime.date) else value

    def parse(self, text):
        return normalise.parse_date(text)

    def error_message(self, reason):
        return _("Not a date: type e.g. 31.12.2025 (a real calendar day).")


class AcceptsPlanSelect(forms.NullBooleanSelect):
    """Yes / no / not stated (the letter does not say): None is an answer of its own here."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("unknown", _("not stated")), ("true", _("yes")), ("false", _("no"))]


class AcceptsPlanField(forms.NullBooleanField):
    widget = AcceptsPlanSelect


class ReviewForm(forms.Form):
    """What the operator says is right. `revision` is the review revision the page showed (0: none yet)."""

    intent = forms.ChoiceField(label=_("Intent"), choices=[("", _("— choose —")), *Intent.choices])
    creditor_name = forms.CharField(
        required=False, max_length=normalise.TEXT_FIELDS["creditor_name"], label=_("Creditor name")
    )
    creditor_reference = forms.CharField(
        required=False, max_length=normalise.TEXT_FIELDS["creditor_reference"], label=_("Creditor reference (Az.)")
    )
    debtor_name = forms.CharField(
        required=False, max_length=normalise.TEXT_FIELDS["debtor_name"], label=_("Debtor (client) name")
    )
    total_claim = GermanAmountField(label=_("Total claim (EUR)"))
    principal = GermanAmountField(label=_("Principal (EUR)"))
    interest = GermanAmountField(label=_("Interest (EUR)"))
    costs = GermanAmountField(label=_("Costs (EUR)"))
    statement_date = GermanDateField(label=_("Statement date"))
    accepts_plan = AcceptsPlanField(required=False, label=_("Accepts the plan"))
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000, label=_("Note"))
    revision = forms.IntegerField(min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, action=SAVE, **kwargs):
        self.action = action
        super().__init__(*args, **kwargs)
        for name in ("creditor_name", "creditor_reference", "debtor_name"):
            self.fields[name].widget.attrs["autocomplete"] = "off"

    def facts(self):
        """The cleaned facts, keyed by the normalised field names (text stripped; empty text is "")."""
        return {name: self.cleaned_data[name] for name in REVIEW_FIELDS}

    def changed_from_prefill(self):
        """The fields (intent included) whose cleaned value differs from what the page was prefilled with."""
        prefill = self.initial
        changed = [] if self.cleaned_data["intent"] == prefill.get("intent") else ["intent"]
        return changed + [name for name in REVIEW_FIELDS if self.cleaned_data[name] != prefill.get(name)]

    def clean(self):
        cleaned = super().clean()
        if self.action == CONFIRM and not self.errors:
            changed = self.changed_from_prefill()
            if changed:
                raise forms.ValidationError(
                    _("You changed %(fields)s: press “Save corrections” to save them, "
                      "or put the values back to confirm the model's answer."),
                    code="changed_on_confirm", params={"fields": ", ".join(changed)},
                )
        return cleaned


def initial_values(answer):
    """Form initial data from `extraction.review.merged_answer`: the intent and the merged facts."""
    return {"intent": answer["intent"], **answer["facts"]}
