"""The one Anthropic client, and one call of a prompt version with it.

`build_client()` is the only place a client is made from settings; `call_prompt()` sends one
prompt version (its model, max_tokens, temperature, system prompt and output schema) with an
optional PDF or image, and turns the answer into a CallResult. Transient API errors (408, 409,
429, 5xx, 529, timeouts) are retried with backoff by the SDK itself (ANTHROPIC_MAX_RETRIES);
what is still failing after that raises LLMCallFailed. An answer that is not the JSON asked for
is not an exception: it is a CallResult with `data=None` and the reason in `error`.
"""

import base64
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from decimal import Decimal

import anthropic
from django.conf import settings

from extraction import pricing
from prompts.schemas import InvalidOutputSchema, answer_schema_error, check_output_schema

PDF_TYPE = "application/pdf"
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# The Messages API refuses images over 5 MB and PDFs over 32 MB; better a clear reason than a 400.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_PDF_BYTES = 32 * 1024 * 1024
_FENCED_JSON = re.compile(r"\A```(?:json)?\s*\n(.*)\n```\Z", re.DOTALL)
# No call reads or writes this many tokens (context windows are at most 1M); more is a broken answer.
MAX_PLAUSIBLE_TOKENS = 5_000_000
# Our answers are flat objects; a deeper one is garbage, and storing it could exhaust a parser's stack.
MAX_ANSWER_DEPTH = 32
_KEY_LIKE = re.compile(r"sk-ant-[A-Za-z0-9_-]+")

logger = logging.getLogger(__name__)
_clients = {}


class LLMNotConfigured(Exception):
    """No API key: calls are impossible until ANTHROPIC_API_KEY is set."""


class UnsupportedDocument(ValueError):
    """A file that cannot be sent to the model; the message says why."""


class LLMCallFailed(Exception):
    """The API call failed for good (after the SDK's retries)."""

    def __init__(self, reason, *, error_type, execution_time_ms, prompt=None):
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type
        self.execution_time_ms = execution_time_ms
        self.prompt = prompt  # the PromptTemplate version whose call failed


@dataclass(frozen=True)
class Document:
    """A PDF or image sent alongside the prompt."""

    content_type: str
    data: bytes


@dataclass(frozen=True)
class CallResult:
    """One completed call: the answer, what it cost and how long it took."""

    prompt: object  # the PromptTemplate version used
    model: str
    raw_text: str
    data: dict | None  # the answer as JSON, only when it is valid (and matches the schema)
    error: str  # why `data` is None; empty on success
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    execution_time_ms: float

    @property
    def success(self):
        return self.data is not None


def build_client():
    """A new Anthropic client from settings; raises LLMNotConfigured without an API key."""
    if not settings.ANTHROPIC_API_KEY:
        raise LLMNotConfigured(
            "ANTHROPIC_API_KEY is not set, so no LLM call can be made; set it and reprocess the failed e-mails."
        )
    return anthropic.Anthropic(
        api_key=settings.ANTHROPIC_API_KEY,
        base_url=settings.ANTHROPIC_BASE_URL,
        timeout=settings.ANTHROPIC_TIMEOUT_SECONDS,
        max_retries=settings.ANTHROPIC_MAX_RETRIES,
    )


def get_client():
    """The process's client for the current settings, built once so its connections are reused."""
    key = (
        settings.ANTHROPIC_API_KEY, settings.ANTHROPIC_BASE_URL,
        settings.ANTHROPIC_TIMEOUT_SECONDS, settings.ANTHROPIC_MAX_RETRIES,
    )
    if key not in _clients:
        _clients.clear()
        _clients[key] = build_client()
    return _clients[key]


def build_client_in_new_worker(sender=None, **kwargs):
    """django-q2's post_spawn receiver: a worker process builds its client as it starts rather than in its
    first task (tens of ms of CPU; an experiment's threads would wait for it before their first case)."""
    try:
        get_client()
    except LLMNotConfigured:
        pass  # a task that needs the client says so
    except Exception:  # noqa: BLE001 - a worker that cannot build it now still runs every other task
        logger.exception("The API client could not be built as the worker started; its first call will try again")


def document_refusal(content_type, size):
    """Why a file of this type and size cannot be sent to the model, or None if it can."""
    if content_type == PDF_TYPE:
        if size > MAX_PDF_BYTES:
            return f"PDFs over {MAX_PDF_BYTES // 2**20} MB are refused by the API ({size / 2**20:.1f} MB)."
        return None
    if content_type in IMAGE_TYPES:
        if size > MAX_IMAGE_BYTES:
            return f"images over {MAX_IMAGE_BYTES // 2**20} MB are refused by the API ({size / 2**20:.1f} MB)."
        return None
    return f"{content_type} cannot be read by the model; only PDF and JPEG/PNG/GIF/WebP images can."


def content_block(document):
    """The Messages API block for a PDF (document) or an image; raises UnsupportedDocument otherwise."""
    reason = document_refusal(document.content_type, len(document.data))
    if reason:
        raise UnsupportedDocument(reason)
    source = {
        "type": "base64",
        "media_type": document.content_type,
        "data": base64.standard_b64encode(document.data).decode("ascii"),
    }
    return {"type": "document" if document.content_type == PDF_TYPE else "image", "source": source}


def call_prompt(prompt, *, variables=None, document=None, client=None):
    """Send one prompt version (with an optional Document) and return its CallResult.

    Raises LLMCallFailed when the API fails after retries, UnsupportedDocument for a file the
    model cannot read, prompts.errors.TemplateRenderError for a template that does not render.
    """
    if prompt.output_schema:
        # A version saved before the schema check, or imported, may hold a schema no answer can be checked
        # against: refuse before the call instead of paying for an answer that can only go to review.
        try:
            check_output_schema(prompt.output_schema)  # cached per schema
        except InvalidOutputSchema as exc:
            raise LLMCallFailed(
                f"the prompt version's output schema cannot be used: {exc}",
                error_type="UnusableOutputSchema", execution_time_ms=0, prompt=prompt,
            ) from exc
    rendered = prompt.render(variables or {})
    content = [content_block(document)] if document is not None else []
    content.append({"type": "text", "text": rendered.user})
    request = {
        "model": prompt.model_name,
        "max_tokens": prompt.max_tokens,
        "messages": [{"role": "user", "content": content}],
        # The SDK's create() has no temperature parameter; the API still accepts it in the body.
        "extra_body": {"temperature": prompt.temperature},
    }
    if rendered.system:
        request["system"] = rendered.system
    if prompt.output_schema:
        request["output_config"] = {"format": {"type": "json_schema", "schema": prompt.output_schema}}
    client = client or get_client()
    started = time.perf_counter()
    try:
        message = client.messages.create(**request)
    except anthropic.APIError as exc:
        raise LLMCallFailed(
            describe_api_error(exc), error_type=type(exc).__name__,
            execution_time_ms=(time.perf_counter() - started) * 1000, prompt=prompt,
        ) from exc
    except ValueError as exc:
        # A 200 whose body is not JSON (a proxy's error page): the SDK's parser raises a bare JSONDecodeError.
        raise _not_a_message(f"not JSON: {exc}", started, prompt) from exc
    if not isinstance(message, anthropic.types.Message):
        # The same with a non-JSON content type: the SDK hands back the body as a string.
        raise _not_a_message(f"{type(message).__name__} {str(message)[:80]!r}", started, prompt)
    execution_time_ms = (time.perf_counter() - started) * 1000
    try:
        # The SDK does not validate answers: any field may have any JSON type.
        raw_text = "".join(block.text for block in message.content if block.type == "text")
        input_tokens, output_tokens = message.usage.input_tokens, message.usage.output_tokens
    except (AttributeError, TypeError) as exc:
        raise _not_a_message(f"{type(exc).__name__}: {exc}", started, prompt) from exc
    if not (_plausible_token_count(input_tokens) and _plausible_token_count(output_tokens)):
        raise LLMCallFailed(
            f"the answer's usage cannot be priced (input_tokens {input_tokens!r}, output_tokens {output_tokens!r})",
            error_type="UnpriceableUsage", execution_time_ms=execution_time_ms, prompt=prompt,
        )
    data, error = parse_answer(raw_text, schema=prompt.output_schema, stop_reason=message.stop_reason)
    return CallResult(
        prompt=prompt,
        model=prompt.model_name,
        raw_text=storable_text(raw_text),
        data=data,
        error=error,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=pricing.call_cost_usd(
            model_id=prompt.model_name, input_tokens=input_tokens, output_tokens=output_tokens
        ),
        execution_time_ms=execution_time_ms,
    )


def _plausible_token_count(count):
    return isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= MAX_PLAUSIBLE_TOKENS


def storable_text(text):
    """`text` as both databases can store it: NUL and unpaired surrogates replaced."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _not_a_message(detail, started, prompt):
    return LLMCallFailed(
        redact_api_key(f"the Anthropic API answered with a body that is not a Messages API response ({detail})"),
        error_type="InvalidResponseBody", execution_time_ms=(time.perf_counter() - started) * 1000, prompt=prompt,
    )


def parse_answer(text, *, schema=None, stop_reason=None):
    """(data, "") for a JSON object answer that matches `schema`, else (None, why not).

    Only strict JSON is data: NaN, Infinity, numbers beyond a float, NUL characters, unpaired
    surrogates and deep nesting are refused with the reason, as is an answer the model refused to give.
    """
    if stop_reason == "refusal":
        return None, "the model refused to answer (stop_reason: refusal)"
    text = text.strip()
    fenced = _FENCED_JSON.match(text)
    if fenced:  # models sometimes wrap JSON in a Markdown fence when no schema forces the format
        text = fenced.group(1)
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        if stop_reason == "max_tokens":
            return None, "the answer was cut off at max_tokens and is not complete JSON"
        return None, f"the answer is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except (ValueError, RecursionError) as exc:
        return None, f"the answer is not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, f"the answer is JSON but not an object (got {type(data).__name__})"
    problem = _unstorable(data)
    if problem:
        return None, f"the answer cannot be stored: {problem}"
    if schema:
        error = answer_schema_error(data, schema)  # never fetches a $ref, never recurses without bound
        if error:
            return None, error
    return data, ""


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text):
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:20]} is too large")
    return number


def _unstorable(data):
    """Why the JSON value `data` cannot be stored in a database, or "" when it can (walked without recursion)."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_ANSWER_DEPTH:
            return f"it is nested more than {MAX_ANSWER_DEPTH} levels deep"
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and value != storable_text(value):
            return "it contains a NUL character or an unpaired surrogate"
    return ""


def describe_api_error(exc):
    """A one-line, key-free description of a final API failure, for the e-mail's error field."""
    return redact_api_key(_api_error_text(exc))


def redact_api_key(text):
    """`text` without the API key, or anything shaped like one: error bodies (from a gateway, say) may quote it."""
    if settings.ANTHROPIC_API_KEY:
        text = text.replace(settings.ANTHROPIC_API_KEY, "[redacted]")
    return _KEY_LIKE.sub("[redacted]", text)


def _api_error_text(exc):
    if isinstance(exc, anthropic.APITimeoutError):
        return f"the Anthropic API did not answer in time (timeout {settings.ANTHROPIC_TIMEOUT_SECONDS:g} s)"
    if isinstance(exc, anthropic.APIConnectionError):
        return f"could not connect to the Anthropic API: {exc.__cause__ or exc}"
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = (body.get("error") or {}).get("message") or exc.message
        return f"Anthropic API error {exc.status_code} ({type(exc).__name__}): {detail}"
    return f"Anthropic API error ({type(exc).__name__}): {exc}"
