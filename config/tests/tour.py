"""The browser tour's material: the data every operator page needs, and the pages themselves.

`build()` fills a (committed) database the way the operators' practice looks: the demo fixture (eight weeks of
figures, ten German e-mails, v2 of the intent prompt), an evaluation set of reviewed statements with a baseline
and a candidate run on it (both answered by the fake model), and a running canary. `PAGES` lists each page by
name: its path (from the admin's URL names), what to wait for, and what it must show.
"""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from dashboard import demo
from devtools.fake_api import FakeAnthropicServer
from evaluation.experiments import experiment_compare_with_active
from evaluation.services import evaluation_set_create
from evaluation.tests.cases import reviewed_statements
from extraction.models import IncomingEmail
from metrics.days import local_day
from metrics.services import rollup_accuracy_metrics
from prompts.models import PromptTemplate
from prompts.selectors import get_active_prompt
from prompts.services import rollout_start
from prompts.tests.factories import make_version

USERNAME, PASSWORD = "erika", "geheim-123"
# A worse candidate for the experiments: the fake model gets a fifth of the fields wrong (devtools.fake_model).
DEGRADE = "\n[fake-model: wrong-fields=0.2 seed=7]"
DEMO_RANGE = f"end={demo.END.isoformat()}"

# The demo's e-mails by their fixed ids (dashboard.demo): a processed debt statement with its amounts, one in
# manual review, and the failed one.
PROCESSED, IN_REVIEW, FAILED = 900_001, 900_006, 900_009


def build(media_root):
    """The tour's rows; returns the ids its pages' paths need."""
    call_command("loaddata", "demo", verbosity=0)
    User.objects.create_superuser(USERNAME, password=PASSWORD)
    assert IncomingEmail.objects.get(pk=FAILED).status == IncomingEmail.Status.FAILED
    with FakeAnthropicServer() as server, override_settings(
        ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=server.url, ANTHROPIC_MAX_RETRIES=0,
        EXPERIMENT_CONCURRENCY=1, MEDIA_ROOT=media_root,
    ):
        # Tasks run inline (Q_SYNC) and, outside a transaction, on commit at once: the runs finish here.
        evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(5), created_by=USERNAME)
        body = get_active_prompt("extraction", "email_body")
        candidate = make_version(body, system_prompt=body.system_prompt + DEGRADE, description="Kürzere Anweisung")
        runs = experiment_compare_with_active(evaluation_set=evaluation_set, candidate=candidate, started_by=USERNAME)
    rollup_accuracy_metrics(day=local_day(timezone.now()))  # the reviews' day, for the daily accuracy list
    image = get_active_prompt("extraction", "image")
    rollout = rollout_start(candidate=make_version(image, description="Genauere Beträge"), percent=20,
                            started_by=USERNAME, reason="Genauere Beträge erwartet")
    intent = get_active_prompt("classification", "email_intent")
    return {
        "intent": intent.pk, "candidate": candidate.pk, "set": evaluation_set.pk,
        "baseline_run": runs["baseline"].pk, "candidate_run": runs["candidate"].pk, "rollout": rollout.pk,
        "older_intent": PromptTemplate.objects.get(task_type="classification", name="email_intent", version=1).pk,
    }


def admin(name, *args):
    return reverse(f"admin:{name}", args=args)


@dataclass(frozen=True)
class Page:
    name: str
    path: object  # ids -> the page's path
    ready: str  # a selector that is there once the page is drawn
    charts: int = 0  # canvases Chart.js has to draw
    columns: tuple = ()  # a list's key columns (th.column-<name>) that must be on screen at 1280 px


EMAIL_COLUMNS = ("sender_and_subject", "status_badge", "intent", "confidence", "reason", "review_link")
# Each metrics list and its key columns: when and what, and the figure an operator looks for.
METRICS_LISTS = {
    "promptperformancemetrics": ("recorded_at", "prompt_version", "success", "confidence"),
    "promptperformancedaily": ("date", "prompt_version", "call_count", "success_rate_display"),
    "operationalmetrics": ("recorded_at", "metric_type", "value"),
    "operationalmetricsdaily": ("date", "metric_type", "labels_key", "avg_display"),
    "promptaccuracymetrics": ("recorded_at", "prompt_version", "fields_checked", "fields_correct"),
    "promptaccuracydaily": ("date", "prompt_version", "accuracy_display", "intent_accuracy_display"),
    "rollupday": ("day", "kind", "rolled_up_at"),
}

PAGES = [
    Page("admin_index", lambda ids: admin("index"), "#overview-prompts"),
    Page("email_list", lambda ids: admin("extraction_incomingemail_changelist"), "#result_list",
         columns=EMAIL_COLUMNS),
    Page("email_processed", lambda ids: admin("extraction_incomingemail_change", PROCESSED), "#incomingemail_form"),
    Page("email_failed", lambda ids: admin("extraction_incomingemail_change", FAILED), "#requeue-button"),
    Page("review", lambda ids: admin("extraction_incomingemail_review", IN_REVIEW), "#review-form"),
    Page("requeue_failed", lambda ids: admin("extraction_incomingemail_requeue_failed"), "#content form"),
    Page("upload", lambda ids: admin("extraction_incomingemail_upload"), "#content form"),
    Page("prompt_list", lambda ids: admin("prompts_prompttemplate_changelist"), "#result_list",
         columns=("prompt_key", "version", "is_active")),
    Page("prompt_version", lambda ids: admin("prompts_prompttemplate_change", ids["intent"]), "#content-main"),
    Page("new_version", lambda ids: admin("prompts_prompttemplate_new_version", ids["intent"]), "#content-main form"),
    Page("preview", lambda ids: admin("prompts_prompttemplate_preview", ids["intent"]), "#content-main"),
    Page("diff", lambda ids: admin("prompts_prompttemplate_diff", ids["intent"]), "#content-main"),
    Page("history", lambda ids: admin("prompts_prompttemplate_prompt_history", "classification", "email_intent"),
         "#content-main"),
    Page("activate", lambda ids: admin("prompts_prompttemplate_activate", ids["candidate"]), "#content-main form"),
    Page("rollback", lambda ids: admin("prompts_prompttemplate_rollback", "classification", "email_intent"),
         "#content-main form"),
    Page("release_canary", lambda ids: admin("prompts_prompttemplate_release", ids["candidate"], "canary"),
         "#content-main form"),
    Page("canary", lambda ids: admin("prompts_promptrollout_change", ids["rollout"]), "#rollout-comparison"),
    Page("evaluation_sets", lambda ids: admin("evaluation_evaluationset_changelist"), "#result_list",
         columns=("name", "case_count")),
    Page("experiment_start", lambda ids: admin("evaluation_experimentrun_start"), "#start_form"),
    Page("experiment_run", lambda ids: admin("evaluation_experimentrun_change", ids["candidate_run"]),
         "#content-main"),
    Page("compare", lambda ids: admin("evaluation_experimentrun_compare", ids["baseline_run"], ids["candidate_run"]),
         "#comparison"),
    *(Page(f"metrics_{model}", lambda ids, model=model: admin(f"metrics_{model}_changelist"), "#result_list",
           columns=columns) for model, columns in METRICS_LISTS.items()),
    Page("performance", lambda ids: admin("prompt_performance", "classification", "email_intent") + f"?days=90&"
         f"{DEMO_RANGE}", "#version-comparison", charts=5),
    Page("operations", lambda ids: admin("operations") + f"?days=30&{DEMO_RANGE}", "#operations-totals", charts=4),
    Page("users", lambda ids: admin("auth_user_changelist"), "#result_list", columns=("username", "is_staff")),
]
