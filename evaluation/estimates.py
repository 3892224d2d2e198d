"""What running a prompt version over an evaluation set will probably cost, shown before a run starts.

Two methods, the better first:
- from recorded calls: the version's average cost per successful call (metrics) times the cases;
- a token estimate, for a version with no recorded call yet (a new one): each case's prompt rendered with the
  variables production would send (extraction.answering), its characters counted as tokens, plus the tokens a
  typical answer takes, priced with the model's price (extraction.ModelPrice). An estimate, not a measurement:
  the tokenizer is not run (≈ 4 characters per token is the usual figure for German text) and documents are
  counted as a constant.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Avg, Count
from django.utils.translation import gettext, ngettext

from config.formatting import format_number
from extraction import answering, pricing
from extraction.models import IncomingEmail
from extraction.selectors import attachments_to_analyse
from metrics.models import PromptPerformanceMetrics
from prompts.errors import TemplateRenderError

CALLS = "calls"
TOKENS = "tokens"
EIGHT_PLACES = Decimal("0.00000001")

# German prose averages about 4 characters per token in Anthropic's tokenizer (English a little more).
CHARACTERS_PER_TOKEN = 4
# A PDF page or a photographed letter costs the model roughly 1,500-2,000 input tokens; a statement is
# one or two pages. The estimate does not open the file (that would be the call).
DOCUMENT_TOKENS = 2000
# An answer in the output schema's JSON: per property its name, quotes, a value (a name or an amount in German
# is 5-15 tokens) and punctuation, about 20 tokens; plus the braces.
TOKENS_PER_ANSWER_PROPERTY = 20
ANSWER_FRAME_TOKENS = 10
# Without a schema the answer is free text: a short paragraph.
FREE_FORM_ANSWER_TOKENS = 200


@dataclass(frozen=True)
class Estimate:
    """An estimated cost (None: no estimate possible) and how it was reached, for the operator."""

    cost_usd: Decimal | None
    method: str | None = None  # CALLS or TOKENS
    calls: int = 0  # the recorded calls it is based on (CALLS)
    input_tokens: int = 0  # the tokens it counted (TOKENS)
    output_tokens: int = 0
    problem: str = ""  # why there is no estimate

    @property
    def basis(self):
        """The method in the operator's words: "from 37 recorded calls", "token estimate (…)"."""
        if self.method == CALLS:
            return ngettext(
                "from %(count)s recorded call", "from %(count)s recorded calls", self.calls
            ) % {"count": self.calls}
        if self.method == TOKENS:
            return gettext(
                "token estimate: about %(input)s input and %(output)s output tokens, at the model's list price"
            ) % {"input": format_number(self.input_tokens), "output": format_number(self.output_tokens)}
        return self.problem


def cost_estimate(*, evaluation_set, template):
    """The Estimate of running `template` over `evaluation_set`: from its recorded calls, else from tokens."""
    recorded = PromptPerformanceMetrics.objects.filter(success=True, prompt_version=template).aggregate(
        cost=Avg("cost_usd"), calls=Count("pk")
    )
    if recorded["calls"]:
        cost = Decimal(recorded["cost"]) * evaluation_set.cases.count()
        return Estimate(cost_usd=cost.quantize(EIGHT_PLACES), method=CALLS, calls=recorded["calls"])
    return token_estimate(evaluation_set=evaluation_set, template=template)


def token_estimate(*, evaluation_set, template):
    """The Estimate from each case's rendered prompt (see the module's docstring)."""
    price = pricing.price_for(template.model_name)
    if price is None:
        return Estimate(cost_usd=None, problem=gettext(
            "No estimate: the model %(model)s has no price in the model price table."
        ) % {"model": template.model_name})
    input_tokens = output_tokens = 0
    answer_tokens = _answer_tokens(template)
    emails = IncomingEmail.objects.filter(evaluation_cases__evaluation_set=evaluation_set).only(
        "pk", "sender", "subject", "body_text"
    )
    try:
        for email in emails.iterator(chunk_size=200):
            for prompt_tokens in _calls_of(template, email):
                input_tokens += prompt_tokens
                output_tokens += answer_tokens
    except TemplateRenderError as exc:
        return Estimate(cost_usd=None, problem=gettext(
            "No estimate: the prompt does not render (%(error)s)."
        ) % {"error": exc})
    cost = (input_tokens * price.input_usd_per_mtok + output_tokens * price.output_usd_per_mtok) / pricing.MILLION
    return Estimate(cost_usd=cost.quantize(EIGHT_PLACES), method=TOKENS,
                    input_tokens=input_tokens, output_tokens=output_tokens)


def _calls_of(template, email):
    """The input tokens of each call `template` makes for `email` (none: the e-mail is not applicable)."""
    key = (template.task_type, template.name)
    if key == answering.CLASSIFICATION_KEY:
        return [_tokens(template.render(answering.intent_variables(email)))]
    if key == answering.BODY_KEY:
        return [_tokens(template.render(answering.body_facts_variables(email)))]
    source = answering.SOURCE_FOR_PROMPT.get(key)
    documents = [a for planned, a in attachments_to_analyse(email=email).analyse if planned == source]
    # A document prompt has no variables: the file is sent beside it as a block.
    return [_tokens(template.render({})) + DOCUMENT_TOKENS for _ in documents]


def _tokens(rendered):
    return math.ceil((len(rendered.system) + len(rendered.user)) / CHARACTERS_PER_TOKEN)


def _answer_tokens(template):
    """The output tokens of a typical answer: from the output schema's size, never more than max_tokens."""
    schema = template.output_schema
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        tokens = ANSWER_FRAME_TOKENS + TOKENS_PER_ANSWER_PROPERTY * len(schema["properties"])
    else:
        tokens = FREE_FORM_ANSWER_TOKENS
    return min(tokens, template.max_tokens)
