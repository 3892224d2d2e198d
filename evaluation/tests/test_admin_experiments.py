"""The experiments' admin: start a run with its cost estimate, see its figures, cancel it, compare two runs,
and build a set from the e-mail list; each with its permission."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from evaluation.models import EvaluationSet, ExperimentRun
from evaluation.services import evaluation_set_create, experiment_start
from evaluation.tests.cases import reviewed_statements, statement
from extraction.services import ingest_message
from prompts.selectors import get_active_prompt
from prompts.tests.factories import make_staff_user, make_version

pytestmark = pytest.mark.django_db

VIEW_RUNS = ("evaluation.view_experimentrun", "evaluation.view_evaluationset")
START = "evaluation.add_experimentrun"
CANCEL = "evaluation.change_experimentrun"
BUILD_SETS = ("evaluation.add_evaluationset", "evaluation.add_evaluationcase", "extraction.view_incomingemail")
DEGRADE = "\n[fake-model: wrong-fields=0.2 seed=7]"


def signed_in(username, *permissions):
    client = Client()
    client.force_login(make_staff_user(username, *permissions))
    return client


@pytest.fixture
def evaluation_set(fake_model):
    return evaluation_set_create(name="November", emails=reviewed_statements(6), created_by="rita")


def test_the_start_page_shows_the_estimate_before_the_run_starts(evaluation_set, django_capture_on_commit_callbacks):
    client = signed_in("olga", *VIEW_RUNS, START)
    version = get_active_prompt("extraction", "email_body")
    url = reverse("admin:evaluation_experimentrun_start")
    form = {"evaluation_set": evaluation_set.pk, "template": version.pk, "max_cost_usd": "1.00"}
    response = client.post(url, {**form, "estimate": "1"})
    assert response.context["estimate"] > 0 and "Estimated cost: <strong>$" in response.content.decode()
    assert not ExperimentRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**form, "start": "1"})
    run = ExperimentRun.objects.get()
    assert response.url == reverse("admin:evaluation_experimentrun_change", args=[run.pk])
    estimate = response_estimate(client, url, form)
    assert (run.started_by, run.max_cost_usd, run.estimated_cost_usd) == ("olga", 1, estimate)
    page = client.get(response.url).content.decode()
    assert "Finished" in page and "(54 of 54 fields)" in page


def response_estimate(client, url, form):
    return client.post(url, {**form, "estimate": "1"}).context["estimate"]


def test_starting_and_cancelling_need_their_permissions(evaluation_set):
    viewer = signed_in("victor", *VIEW_RUNS)
    assert viewer.get(reverse("admin:evaluation_experimentrun_start")).status_code == 403
    run = experiment_start(evaluation_set=evaluation_set, template=get_active_prompt("extraction", "email_body"),
                           started_by="olga")  # queued: the test's transaction never commits
    run_page = reverse("admin:evaluation_experimentrun_change", args=[run.pk])
    assert "Cancel this run" not in viewer.get(run_page).content.decode()
    assert viewer.post(reverse("admin:evaluation_experimentrun_cancel", args=[run.pk])).status_code == 403
    operator = signed_in("olga", *VIEW_RUNS, CANCEL)
    assert "Cancel this run" in operator.get(run_page).content.decode()
    operator.post(reverse("admin:evaluation_experimentrun_cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "cancelled" and run.stop_reason == "cancelled by olga"


def compare_with_active(client, version, evaluation_set, **form):
    return client.post(reverse("admin:evaluation_experimentrun_compare_with_active", args=[version.pk]),
                       {"evaluation_set": evaluation_set.pk, "compare": "1", **form})


def test_one_click_compare_with_active_runs_both_versions_and_lists_the_cases_that_got_worse(
    evaluation_set, django_capture_on_commit_callbacks
):
    active = get_active_prompt("extraction", "email_body")
    worse = make_version(active, system_prompt=active.system_prompt + DEGRADE)
    client = signed_in("olga", *VIEW_RUNS, START)
    with django_capture_on_commit_callbacks(execute=True):
        response = compare_with_active(client, worse, evaluation_set, max_cost_usd="5")
    baseline, candidate = ExperimentRun.objects.get(template=active), ExperimentRun.objects.get(template=worse)
    assert response.url == reverse("admin:evaluation_experimentrun_compare", args=[baseline.pk, candidate.pk])
    assert baseline.max_cost_usd == candidate.max_cost_usd == 5  # the budget caps each run
    assert baseline.estimated_cost_usd > 0 and candidate.estimated_cost_usd > 0
    page = client.get(response.url)
    regressions = page.context["comparison"]["regressions"]
    assert regressions and page.context["listed"][0][0] == "Got worse"
    html = page.content.decode()
    assert f"Got worse ({len(regressions)})" in html
    assert 'id="progress"' not in html and 'http-equiv="refresh"' not in html  # both have finished
    for case in evaluation_set.cases.filter(pk__in=regressions):
        assert reverse("admin:extraction_incomingemail_change", args=[case.email_id]) in html
    # Asked again, the existing runs are shown rather than new ones started.
    compare_with_active(client, worse, evaluation_set)
    assert ExperimentRun.objects.count() == 2


def test_compare_with_active_starts_only_the_candidates_run_when_the_active_one_has_finished_on_the_set(
    evaluation_set, django_capture_on_commit_callbacks
):
    active = get_active_prompt("extraction", "email_body")
    with django_capture_on_commit_callbacks(execute=True):
        finished = experiment_start(evaluation_set=evaluation_set, template=active, started_by="rita")
    finished.refresh_from_db()
    assert finished.status == "finished"
    candidate = make_version(active)
    client = signed_in("olga", *VIEW_RUNS, START)
    page = client.get(reverse("admin:evaluation_experimentrun_compare_with_active", args=[candidate.pk]))
    assert f"run #{finished.pk} (Finished), used as it is" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = compare_with_active(client, candidate, evaluation_set)
    new = ExperimentRun.objects.exclude(pk=finished.pk).get()
    assert new.template == candidate
    assert response.url == reverse("admin:evaluation_experimentrun_compare", args=[finished.pk, new.pk])


def test_the_compare_page_shows_the_progress_of_runs_still_going(evaluation_set, django_capture_on_commit_callbacks):
    active = get_active_prompt("extraction", "email_body")
    client = signed_in("olga", *VIEW_RUNS, START)
    with django_capture_on_commit_callbacks(execute=False):  # queued: no worker takes them
        response = compare_with_active(client, make_version(active), evaluation_set)
    html = client.get(response.url).content.decode()
    assert 'http-equiv="refresh" content="5"' in html
    assert "Candidate run #" in html and "0 of 6 cases done" in html and '<progress value="0" max="6">' in html


def test_the_compare_with_active_page_preselects_the_only_set_and_estimates_both_runs(evaluation_set):
    active = get_active_prompt("extraction", "email_body")
    candidate = make_version(active)
    client = signed_in("olga", *VIEW_RUNS, START)
    page = client.get(reverse("admin:evaluation_experimentrun_compare_with_active", args=[candidate.pk]))
    assert page.context["form"]["evaluation_set"].value() == evaluation_set.pk
    active_row, candidate_row = page.context["plan"]["rows"]
    recorded = active_row["estimate"].calls
    assert recorded > 0 and active_row["estimate"].basis == f"from {recorded} recorded calls"
    assert candidate_row["estimate"].basis.startswith("token estimate")
    assert page.context["plan"]["total"] == active_row["estimate"].cost_usd + candidate_row["estimate"].cost_usd
    assert "Estimated cost of the 2 new runs: <strong>$" in page.content.decode()
    assert not ExperimentRun.objects.exists()  # nothing starts before the click
    assert "More than the budget" not in page.content.decode()
    page = client.post(page.request["PATH_INFO"], {"evaluation_set": evaluation_set.pk, "max_cost_usd": "0.000001",
                                                   "estimate": "1"})
    assert page.content.decode().count("More than the budget: the run stops before its last case.") == 2
    assert not ExperimentRun.objects.exists()


def test_compare_with_active_is_refused_without_the_permission_to_start_runs(evaluation_set):
    candidate = make_version(get_active_prompt("extraction", "email_body"))
    viewer = signed_in("victor", *VIEW_RUNS)
    url = reverse("admin:evaluation_experimentrun_compare_with_active", args=[candidate.pk])
    assert viewer.get(url).status_code == 403
    assert compare_with_active(viewer, candidate, evaluation_set).status_code == 403
    assert not ExperimentRun.objects.exists()


def test_the_active_version_cannot_be_compared_with_itself(evaluation_set):
    active = get_active_prompt("extraction", "email_body")
    client = signed_in("olga", *VIEW_RUNS, START)
    response = compare_with_active(client, active, evaluation_set)
    assert response.status_code == 200 and "is the active version" in response.content.decode()
    assert not ExperimentRun.objects.exists()


def test_the_email_list_action_adds_reviewed_emails_to_a_new_set(fake_model):
    emails = reviewed_statements(2)
    client = signed_in("olga", *BUILD_SETS)
    url = reverse("admin:extraction_incomingemail_changelist")
    selected = {"action": "add_to_evaluation_set", ACTION_CHECKBOX_NAME: [e.pk for e in emails]}
    page = client.post(url, selected)
    assert page.status_code == 200 and "Add to an evaluation set" in page.content.decode()
    response = client.post(url, {**selected, "apply": "1", "name": "Dezember"})
    evaluation_set = EvaluationSet.objects.get(name="Dezember")
    assert response.url == reverse("admin:evaluation_evaluationset_change", args=[evaluation_set.pk])
    assert set(evaluation_set.cases.values_list("email", flat=True)) == {e.pk for e in emails}


def test_the_action_refuses_unreviewed_emails_by_name_and_adds_nothing(fake_model):
    reviewed = reviewed_statements(1)
    waiting = ingest_message(statement(9))
    client = signed_in("olga", *BUILD_SETS)
    url = reverse("admin:extraction_incomingemail_changelist")
    response = client.post(url, {"action": "add_to_evaluation_set", ACTION_CHECKBOX_NAME: [reviewed[0].pk, waiting.pk],
                                 "apply": "1", "name": "Dezember"}, follow=True)
    [message] = [m.message for m in get_messages(response.wsgi_request)]
    assert message.startswith("Nothing added: Only reviewed e-mails") and f"#{waiting.pk}" in message
    assert not EvaluationSet.objects.exists()


def test_the_action_is_offered_only_with_the_permission_to_build_sets(fake_model):
    reviewed_statements(1)
    url = reverse("admin:extraction_incomingemail_changelist")
    assert "add_to_evaluation_set" not in signed_in("victor", "extraction.view_incomingemail").get(url).content.decode()
    assert "add_to_evaluation_set" in signed_in("olga", *BUILD_SETS).get(url).content.decode()
