"""The operators' pages, served by OperatorsAdminSite (which handles login and staff status)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext

from dashboard import pages, ranges, selectors
from dashboard.forms import RangeForm
from metrics.days import local_day


def _day_range(request):
    """The requested range, or None when the query string is invalid."""
    today = local_day(timezone.now())
    form = RangeForm(request.GET, today=today)
    if not form.is_valid():
        return None, form
    return ranges.day_range(today=today, days=form.cleaned_data["days"], last=form.cleaned_data["end"]), form


def _range_context(day_range):
    return {
        "day_range": day_range,
        "range_choices": ranges.RANGE_CHOICES,
        # The range links keep a chosen end day, so switching 7/30/90 stays on the same period.
        "end_param": "" if day_range.last == day_range.today else day_range.last.isoformat(),
    }


def performance(request, *, site, task_type, name):
    """Per-version charts and comparison of one prompt over 7/30/90 days."""
    if not request.user.has_perm("prompts.view_prompttemplate"):
        raise PermissionDenied
    day_range, form = _day_range(request)
    if day_range is None:
        return HttpResponseBadRequest(form.errors.as_text())
    page = pages.prompt_performance(task_type=task_type, name=name, day_range=day_range)
    if not page["versions"]:
        raise Http404(f"No prompt {task_type}.{name}.")
    context = {
        **site.each_context(request),
        **_range_context(day_range),
        **page,
        "title": gettext("Performance of %(prompt)s") % {"prompt": f"{task_type}.{name}"},
        "task_type": task_type,
        "name": name,
    }
    return TemplateResponse(request, "dashboard/performance.html", context)


def operations(request, *, site):
    """Queue depth, processing time, errors and tokens per day."""
    if not selectors.can_view_operations(request.user):
        raise PermissionDenied
    day_range, form = _day_range(request)
    if day_range is None:
        return HttpResponseBadRequest(form.errors.as_text())
    page = pages.operations(day_range=day_range)
    context = {
        **site.each_context(request),
        **_range_context(day_range),
        **page,
        "title": gettext("Operations"),
    }
    return TemplateResponse(request, "dashboard/operations.html", context)
