"""The cost estimate shown before a run starts: from the version's recorded calls, else a token estimate from
the prompts rendered as production renders them, priced with the model price table."""

import math
from decimal import Decimal

import pytest

from evaluation.estimates import CALLS, DOCUMENT_TOKENS, TOKENS, cost_estimate
from evaluation.services import evaluation_set_create
from evaluation.tests.cases import reviewed_statements
from extraction import answering
from extraction.models import ModelPrice
from metrics.models import PromptPerformanceMetrics
from prompts.selectors import get_active_prompt
from prompts.tests.factories import make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def evaluation_set(fake_model):
    return evaluation_set_create(name="November", emails=reviewed_statements(3), created_by="rita")


def test_a_version_with_recorded_calls_is_estimated_from_them(evaluation_set):
    version = get_active_prompt("extraction", "email_body")
    recorded = PromptPerformanceMetrics.objects.filter(prompt_version=version, success=True)
    estimate = cost_estimate(evaluation_set=evaluation_set, template=version)
    assert estimate.method == CALLS and estimate.calls == recorded.count() == 3
    assert estimate.basis == "from 3 recorded calls"


def test_a_new_version_is_estimated_from_its_rendered_prompts_and_the_models_price(evaluation_set):
    version = make_version(get_active_prompt("extraction", "email_body"), max_tokens=4096)
    estimate = cost_estimate(evaluation_set=evaluation_set, template=version)
    assert estimate.method == TOKENS
    rendered = [version.render(answering.body_facts_variables(case.email)) for case in evaluation_set.cases.all()]
    # About 4 characters a token; the answer: 20 tokens per property of the output schema (10 here) plus 10.
    input_tokens = sum(math.ceil((len(r.system) + len(r.user)) / 4) for r in rendered)
    assert (estimate.input_tokens, estimate.output_tokens) == (input_tokens, 3 * 210)
    price = ModelPrice.objects.filter(model_id=version.model_name).order_by("-valid_from").first()
    expected = (input_tokens * price.input_usd_per_mtok + 630 * price.output_usd_per_mtok) / 1_000_000
    assert estimate.cost_usd == expected.quantize(Decimal("0.00000001")) > 0
    assert estimate.basis.startswith("token estimate: about ")


def test_the_answer_tokens_never_exceed_the_versions_max_tokens(evaluation_set):
    version = make_version(get_active_prompt("classification", "email_intent"), max_tokens=16)
    estimate = cost_estimate(evaluation_set=evaluation_set, template=version)
    assert estimate.method == TOKENS and estimate.output_tokens == 3 * 16


def test_a_document_prompt_counts_only_the_cases_with_such_a_document(evaluation_set):
    version = make_version(get_active_prompt("extraction", "pdf_scanned"))
    estimate = cost_estimate(evaluation_set=evaluation_set, template=version)
    assert (estimate.method, estimate.input_tokens, estimate.cost_usd) == (TOKENS, 0, 0)  # plain-text statements
    assert DOCUMENT_TOKENS > 0


def test_a_model_without_a_price_has_no_estimate_and_says_why(evaluation_set):
    version = make_version(get_active_prompt("extraction", "email_body"), model_name="claude-unpriced-9")
    estimate = cost_estimate(evaluation_set=evaluation_set, template=version)
    assert estimate.cost_usd is None
    assert estimate.basis == "No estimate: the model claude-unpriced-9 has no price in the model price table."
