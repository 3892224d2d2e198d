"""The activation confirmation shows how well the version answers before anyone activates it: its latest
experiment beside the active version's run on the same set (with the difference and a link to the cases), and
both versions' accuracy on the operators' reviews of the last 30 days (evaluation/evidence.py)."""

import pytest
from django.urls import reverse

from evaluation.services import evaluation_set_create, experiment_start
from evaluation.tests.cases import reviewed_statements
from prompts.selectors import get_active_prompt
from prompts.tests.factories import make_version

pytestmark = pytest.mark.django_db
DEGRADED = "\n[fake-model: wrong-fields=0.3 seed=7]"


def confirmation(client, version):
    return client.get(reverse("admin:prompts_prompttemplate_activate", args=[version.pk])).content.decode()


def finished_run(capture, **kwargs):
    with capture(execute=True):
        run = experiment_start(started_by="rita", **kwargs)
    run.refresh_from_db()
    assert run.status == "finished"
    return run


def test_the_candidates_latest_experiment_is_shown_beside_the_active_versions_with_the_difference(
    fake_model, admin_client, django_capture_on_commit_callbacks
):
    emails = reviewed_statements(6)
    evaluation_set = evaluation_set_create(name="November", emails=emails, created_by="rita")
    active = get_active_prompt("extraction", "email_body")
    candidate = make_version(active, system_prompt=active.system_prompt + DEGRADED)
    baseline = finished_run(django_capture_on_commit_callbacks, evaluation_set=evaluation_set, template=active)
    run = finished_run(django_capture_on_commit_callbacks, evaluation_set=evaluation_set, template=candidate)
    assert run.summary()["accuracy"] < baseline.summary()["accuracy"] == 1

    page = confirmation(admin_client, candidate)
    evidence = page[page.index('id="activation-evidence"'):]
    assert "Latest experiment on “November”" in evidence and "over 6 cases" in evidence
    points = (baseline.summary()["accuracy"] - run.summary()["accuracy"]) * 100
    assert f"The active v{active.version} reached 100.0%" in evidence
    assert f"−{points:.1f}\u00a0points" in evidence
    assert reverse("admin:evaluation_experimentrun_compare", args=[baseline.pk, run.pk]) in evidence
    # The reviews were of e-mails the active version answered: 6 reviews, every fact right.
    assert f"v{active.version} (active)</th>\n        <td>6</td>\n        <td>100.0%</td>" in evidence


def test_a_version_without_an_experiment_says_so_and_offers_to_run_one(fake_model, admin_client):
    active = get_active_prompt("extraction", "email_body")
    candidate = make_version(active)
    evidence = confirmation(admin_client, candidate)
    assert "This version has not finished an experiment yet" in evidence
    assert f'{reverse("admin:evaluation_experimentrun_start")}?template={candidate.pk}' in evidence


def test_the_evidence_is_german_with_german_numbers(fake_model, admin_client, django_capture_on_commit_callbacks):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(2), created_by="rita")
    active = get_active_prompt("extraction", "email_body")
    candidate = make_version(active)
    finished_run(django_capture_on_commit_callbacks, evaluation_set=evaluation_set, template=active)
    finished_run(django_capture_on_commit_callbacks, evaluation_set=evaluation_set, template=candidate)
    page = admin_client.get(
        reverse("admin:prompts_prompttemplate_activate", args=[candidate.pk]), HTTP_ACCEPT_LANGUAGE="de"
    ).content.decode()
    evidence = page[page.index('id="activation-evidence"'):]
    assert "100,0\u00a0%" in evidence and "+0,0\u00a0Prozentpunkte" in evidence
