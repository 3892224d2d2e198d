"""The evaluation gate (evaluation.gate.ExperimentGateValidator in PROMPT_ACTIVATION_VALIDATORS): a version
serves only after a finished experiment on the named set, with enough cases and no accuracy regression beyond
the allowed points against the active version; an override needs a reason, and the audit keeps either."""

import pytest

from evaluation.services import evaluation_set_create, experiment_start
from evaluation.tests.cases import reviewed_statements
from prompts.errors import ActivationBlocked
from prompts.selectors import get_active_prompt
from prompts.services import prompt_activate
from prompts.tests.factories import make_version

pytestmark = pytest.mark.django_db

DEGRADE = "\n[fake-model: wrong-fields=0.2 seed=7]"


@pytest.fixture
def gate(settings):
    def configure(**options):
        settings.PROMPT_ACTIVATION_VALIDATORS = [{
            "NAME": "evaluation.gate.ExperimentGateValidator",
            "OPTIONS": {"evaluation_set": "November", "min_cases": 8, "max_regression_points": 1.0, **options},
        }]
    configure()
    return configure


@pytest.fixture
def evaluation_set(fake_model):
    return evaluation_set_create(name="November", emails=reviewed_statements(10), created_by="rita")


@pytest.fixture
def run(django_capture_on_commit_callbacks, evaluation_set):
    def run_now(template):
        with django_capture_on_commit_callbacks(execute=True):
            return experiment_start(evaluation_set=evaluation_set, template=template, started_by="rita")
    return run_now


def test_a_version_without_a_finished_experiment_is_refused(gate, evaluation_set):
    active = get_active_prompt("extraction", "email_body")
    candidate = make_version(active)
    with pytest.raises(ActivationBlocked, match="no finished experiment on November"):
        prompt_activate(template=candidate, activated_by="rita")
    assert get_active_prompt("extraction", "email_body").pk == active.pk


def test_the_active_version_needs_a_run_on_the_set_to_compare_with(gate, run):
    candidate = make_version(get_active_prompt("extraction", "email_body"))
    run(candidate)
    with pytest.raises(ActivationBlocked, match="active .* has no finished experiment"):
        prompt_activate(template=candidate, activated_by="rita")


def test_a_version_as_good_as_the_active_one_passes_and_the_audit_names_both_runs(gate, run):
    active = get_active_prompt("extraction", "email_body")
    candidate = make_version(active, description="Same answers, clearer wording")
    baseline_run, candidate_run = run(active), run(candidate)
    activation = prompt_activate(template=candidate, activated_by="rita")
    [passed] = activation.gate["passed"]
    assert passed["validator"] == "evaluation.gate.ExperimentGateValidator"
    assert f"experiment run #{candidate_run.pk} on November: accuracy 100.0% over 10 cases" in passed["note"]
    assert f"(run #{baseline_run.pk})" in passed["note"]
    assert activation.override_reason == ""


def test_a_regression_is_refused_with_its_figures_and_an_override_with_a_reason_is_audited(gate, run):
    active = get_active_prompt("extraction", "email_body")
    worse = make_version(active, system_prompt=active.system_prompt + DEGRADE)
    run(active)
    worse_run = run(worse)
    with pytest.raises(ActivationBlocked) as refused:
        prompt_activate(template=worse, activated_by="rita")
    assert f"experiment run #{worse_run.pk}" in str(refused.value) and "points lower" in str(refused.value)
    with pytest.raises(ActivationBlocked):
        prompt_activate(template=worse, activated_by="rita", override_reason="   ")
    activation = prompt_activate(template=worse, activated_by="rita", override_reason="Demo of the gate")
    assert activation.override_reason == "Demo of the gate" and activation.gate["overridden"] is True
    assert "points lower" in activation.gate["blocked"][0]


def test_a_run_with_too_few_cases_does_not_count(gate, run):
    gate(min_cases=11)
    active = get_active_prompt("extraction", "email_body")
    candidate = make_version(active)
    run(active), run(candidate)
    with pytest.raises(ActivationBlocked, match="scored 10 cases on November; the gate needs at least 11"):
        prompt_activate(template=candidate, activated_by="rita")


def test_the_allowed_regression_is_a_setting(gate, run):
    active = get_active_prompt("extraction", "email_body")
    worse = make_version(active, system_prompt=active.system_prompt + DEGRADE)
    run(active), run(worse)
    gate(max_regression_points=100)
    assert prompt_activate(template=worse, activated_by="rita").gate["passed"]
