"""One function per prompt key: build its variables from an e-mail, call a prompt version, read the answer.

Production (extraction.pipeline, with the active version) and experiments (evaluation, with the version
under test) both come through here, so an experiment answers exactly as production would: the same
variables, the same LLM module, the same normalisation. Nothing here writes to the database.

- classification.email_intent -> the intent (`intent_call`, `classification_of`);
- extraction.email_body -> facts from the body (`body_facts_call`, `facts_of`);
- extraction.pdf_scanned / extraction.image -> facts from each such attachment (`document_facts_call`);
  an e-mail without one is not applicable for that key.
`answers_for(email=, prompt=)` does all of it for one version and returns typed `Answer`s.
"""

import time
from dataclasses import dataclass, field
from decimal import Decimal

from extraction import llm, normalise, selectors
from extraction.models import ExtractionResult, Intent
from prompts.errors import TemplateRenderError

# The intent shows in the first paragraphs; the cap bounds the cost of long quoted threads.
CLASSIFICATION_BODY_CHARS = 3000
# A body longer than this is a quoted history; the creditor's answer is at the top.
EXTRACTION_BODY_CHARS = 60_000
# Subjects are a line (RFC 5322 allows 998 characters); a longer one is padding that would only cost
# tokens, or push the rendered prompt over the renderer's output limit.
SUBJECT_CHARS = 1000

CLASSIFICATION_KEY = ("classification", "email_intent")
BODY_KEY = ("extraction", "email_body")
PROMPT_FOR_SOURCE = {
    ExtractionResult.Source.PDF: ("extraction", "pdf_scanned"),
    ExtractionResult.Source.IMAGE: ("extraction", "image"),
}
SOURCE_FOR_PROMPT = {key: source for source, key in PROMPT_FOR_SOURCE.items()}
PROMPT_KEYS = (CLASSIFICATION_KEY, BODY_KEY, *PROMPT_FOR_SOURCE.values())


@dataclass(frozen=True)
class Classification:
    """What a classification call said: a known intent and its confidence, or why it is unusable."""

    intent: str  # an Intent value, or "" when the answer gave none that is usable
    confidence: float | None
    problem: str  # empty when the intent is usable


def intent_variables(email):
    """The variables a classification prompt is rendered with (also what evaluation's cost estimate renders)."""
    return {"subject": email.subject[:SUBJECT_CHARS], "truncated_body": email.body_text[:CLASSIFICATION_BODY_CHARS]}


def body_facts_variables(email):
    """The variables a body extraction prompt is rendered with."""
    return {
        "sender": email.sender, "subject": email.subject[:SUBJECT_CHARS],
        "body": email.body_text[:EXTRACTION_BODY_CHARS],
    }


def intent_call(*, email, prompt, client=None):
    """The CallResult of classifying `email` with `prompt`; raises llm.LLMCallFailed like llm.call_prompt."""
    return llm.call_prompt(prompt, client=client, variables=intent_variables(email))


def body_facts_call(*, email, prompt, client=None):
    """The CallResult of extracting the facts of `email`'s body with `prompt`."""
    return llm.call_prompt(prompt, client=client, variables=body_facts_variables(email))


def document_facts_call(*, attachment, prompt, client=None):
    """The CallResult of extracting the facts of one PDF or image attachment with `prompt` (sent as a block)."""
    with attachment.file.open("rb") as handle:
        document = llm.Document(content_type=attachment.content_type, data=handle.read())
    return llm.call_prompt(prompt, document=document, client=client)


def classification_of(call):
    """The Classification a classification call's answer gives (a failed answer is a problem, not an error)."""
    if not call.success:
        return Classification(intent="", confidence=None, problem=call.error)
    intent, raw_confidence = call.data.get("intent"), call.data.get("confidence")
    try:
        confidence = normalise.parse_confidence(raw_confidence)
    except ValueError:
        confidence = None
    if intent not in Intent.values or confidence is None:
        return Classification(
            intent="", confidence=None, problem=f"intent {intent!r} or confidence {raw_confidence!r} not usable"
        )
    return Classification(intent=intent, confidence=confidence, problem="")


def facts_of(call):
    """The normalised facts of an extraction call's answer (all empty when the answer is unusable)."""
    return normalise.normalise_extraction(call.data if call.success else {})


def merge_facts(answers):
    """One value per fact from several sources' facts (dicts with a `confidence`): the most confident non-empty."""
    ranked = sorted(answers, key=lambda facts: -(facts.get("confidence") or 0))
    merged = {}
    for name in normalise.MERGED_FIELDS:
        values = [facts[name] for facts in ranked if facts.get(name) not in (None, "")]
        merged[name] = values[0] if values else ("" if name in normalise.TEXT_FIELDS else None)
    return merged


# For experiments: typed answers of one version --------------------------------------------------

@dataclass(frozen=True)
class Answer:
    """One call of a version for one source of an e-mail, read as production reads it.

    `values` is {"intent": ...} for classification, else the normalised facts (with their confidence);
    `error` says why the answer is unusable (the call failed for good, the answer is not the JSON asked
    for, an unknown intent); the values are then what production would store: empty.
    """

    source: str  # "classification", or an ExtractionResult.Source
    attachment_name: str
    values: dict
    unparsed: dict = field(default_factory=dict)
    error: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal("0")
    latency_ms: float = 0.0


def answers_for(*, email, prompt, client=None):
    """The Answers `prompt` gives for `email`: one for classification or the body, one per PDF or image
    attachment for the document keys (none: the e-mail is not applicable for that key)."""
    key = (prompt.task_type, prompt.name)
    if key == CLASSIFICATION_KEY:
        return [_answer("classification", "", lambda: intent_call(email=email, prompt=prompt, client=client))]
    if key == BODY_KEY:
        return [_answer(
            ExtractionResult.Source.BODY, "", lambda: body_facts_call(email=email, prompt=prompt, client=client)
        )]
    if key in SOURCE_FOR_PROMPT:
        source = SOURCE_FOR_PROMPT[key]
        return [
            _answer(source, attachment.original_name,
                    lambda a=attachment: document_facts_call(attachment=a, prompt=prompt, client=client))
            for planned_source, attachment in selectors.attachments_to_analyse(email=email).analyse
            if planned_source == source
        ]
    raise ValueError(f"{prompt} is not one of the pipeline's prompts ({', '.join('.'.join(k) for k in PROMPT_KEYS)}).")


def _answer(source, attachment_name, make_call):
    started = time.perf_counter()
    try:
        call = make_call()
    except (llm.LLMCallFailed, llm.UnsupportedDocument, TemplateRenderError, OSError) as exc:
        # Production fails the e-mail here; an experiment records the case's error and goes on.
        latency = getattr(exc, "execution_time_ms", None)
        empty = {"intent": ""} if source == "classification" else facts_of_nothing()
        return Answer(
            source=source, attachment_name=attachment_name, values=empty, error=str(getattr(exc, "reason", exc)),
            latency_ms=latency if latency is not None else (time.perf_counter() - started) * 1000,
        )
    usage = {"input_tokens": call.input_tokens, "output_tokens": call.output_tokens, "cost_usd": call.cost_usd,
             "latency_ms": call.execution_time_ms}
    if source == "classification":
        classification = classification_of(call)
        return Answer(source=source, attachment_name=attachment_name, values={"intent": classification.intent},
                      error=classification.problem, **usage)
    normalised = facts_of(call)
    return Answer(source=source, attachment_name=attachment_name, values=normalised.fields,
                  unparsed=normalised.unparsed, error=call.error, **usage)


def facts_of_nothing():
    """The facts production stores for an unusable answer: every field empty."""
    return normalise.normalise_extraction({}).fields
