from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from dashboard.ranges import DEFAULT_RANGE, RANGE_CHOICES


class RangeForm(forms.Form):
    """`?days=7|30|90&end=YYYY-MM-DD`: the range of days a page shows (default: 30 days ending today)."""

    days = forms.TypedChoiceField(
        choices=[(n, ngettext_lazy("%(count)s day", "%(count)s days", "count") % {"count": n}) for n in RANGE_CHOICES],
        coerce=int, required=False, empty_value=DEFAULT_RANGE,
    )
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"])

    def __init__(self, data, *, today):
        super().__init__(data)
        self.today = today

    def clean_end(self):
        end = self.cleaned_data["end"]
        if end is not None and end > self.today:
            raise forms.ValidationError(_("The range cannot end after today."))
        return end
