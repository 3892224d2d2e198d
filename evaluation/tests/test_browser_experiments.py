"""From a version's page in a real browser: compare it with the active version on an evaluation set, see the
cases that got worse, have its activation refused by the gate, and override the gate with a reason."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from evaluation.models import EvaluationSet, ExperimentRun
from evaluation.services import evaluation_set_create
from evaluation.tests.cases import reviewed_statements
from evaluation.tests.test_browser_release import log_in, staff_user
from prompts.models import PromptActivation
from prompts.selectors import get_active_prompt
from prompts.tests.factories import OPERATOR_PERMISSIONS, OVERRIDE_GATE, make_version

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

EXPERIMENTS = ("evaluation.view_experimentrun", "evaluation.add_experimentrun", "evaluation.view_evaluationset",
               "extraction.view_incomingemail")


def test_compare_with_active_shows_the_regressions_and_the_gate_refuses_until_overridden(
    page, live_server, settings, fake_model
):
    evaluation_set_create(name="November", emails=reviewed_statements(6), created_by="rita")
    settings.PROMPT_ACTIVATION_VALIDATORS = [{
        "NAME": "evaluation.gate.ExperimentGateValidator",
        "OPTIONS": {"evaluation_set": "November", "min_cases": 5, "max_regression_points": 1.0},
    }]
    staff_user("olga", *OPERATOR_PERMISSIONS, OVERRIDE_GATE, *EXPERIMENTS)
    active = get_active_prompt("extraction", "email_body")
    worse = make_version(active, system_prompt=active.system_prompt + "\n[fake-model: wrong-fields=0.2 seed=7]",
                         description="Kürzere Anweisung")
    version_page = reverse("admin:prompts_prompttemplate_change", args=[worse.pk])

    log_in(page, live_server, "olga", version_page)
    page.get_by_role("link", name="Compare with active…").click()
    # One step: the only set is preselected, both runs are estimated; one click starts both.
    expect(page.get_by_label("Evaluation set")).to_have_value(str(EvaluationSet.objects.get().pk))
    expect(page.locator("#estimate")).to_contain_text("Estimated cost of the 2 new runs")
    page.get_by_role("button", name="Compare with the active version").click()
    # The runs ran inline (Q_SYNC): the comparison is complete.
    expect(page.locator("#comparison")).to_contain_text("Candidate v2")
    regressions = ExperimentRun.objects.get(template=worse).summary()
    assert regressions["accuracy"] < 1.0
    expect(page.locator("#regressions h2")).to_contain_text("Got worse (")
    expect(page.locator("#regressions tbody tr").first).to_be_visible()
    page.locator("#regressions a").first.click()
    expect(page.locator("#content")).to_contain_text("Forderungsaufstellung Nr.")

    page.goto(live_server.url + version_page)
    page.get_by_role("link", name="Activate this version…").click()
    # The confirmation shows the gate's verdict and offers no plain activation, only the override.
    expect(page.locator(".errornote").first).to_contain_text("The activation gate blocks this version")
    expect(page.locator(".gate-reasons")).to_contain_text("points lower")
    expect(page.get_by_role("button", name="Activate v2")).to_have_count(0)
    assert get_active_prompt("extraction", "email_body").pk == active.pk

    page.get_by_role("link", name="Activate with a reason…").click()
    page.get_by_label("Override the gate because").fill("Nur Formulierung geändert, Abweichung geprüft")
    page.get_by_role("button", name="Activate").click()
    activation = PromptActivation.objects.get(to_version=worse)
    assert activation.override_reason == "Nur Formulierung geändert, Abweichung geprüft"
    assert activation.activated_by == "olga" and activation.gate["overridden"] is True
