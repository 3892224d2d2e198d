"""One call of a prompt version through the real anthropic client: request, answer, retries, failures."""

import base64
import json
from decimal import Decimal

import anthropic
import httpx2
import pytest
from django_q.signals import post_spawn

from devtools.fake_api import FakeAnthropicServer
from extraction import llm
from extraction.tests.conftest import BODY_ANSWER, error_response, message_body
from prompts.selectors import get_active_prompt

pytestmark = pytest.mark.django_db

PDF = llm.Document(content_type="application/pdf", data=b"%PDF-1.4 Forderungsaufstellung")


@pytest.fixture
def classification():
    return get_active_prompt("classification", "email_intent")


@pytest.fixture
def body_prompt():
    return get_active_prompt("extraction", "email_body")


def body_variables():
    return {
        "sender": "Inkasso Nord <post@inkasso-nord.example>", "subject": "Forderung", "body": "Bitte 300,00 € zahlen."
    }


def test_a_call_sends_the_versions_model_max_tokens_temperature_system_prompt_and_schema(api, body_prompt):
    llm.call_prompt(body_prompt, variables=body_variables(), client=api.client())
    [request] = api.requests
    assert request["model"] == "claude-sonnet-4-6"
    assert request["max_tokens"] == 1024
    assert request["temperature"] == 0.0
    assert request["system"].startswith("Du bist ein sorgfältiger Assistent")
    assert request["output_config"] == {"format": {"type": "json_schema", "schema": body_prompt.output_schema}}
    [text] = request["messages"][0]["content"]
    assert "Absender: Inkasso Nord <post@inkasso-nord.example>" in text["text"]
    assert "Bitte 300,00 € zahlen." in text["text"]


def test_a_prompt_without_system_prompt_sends_none(api, classification):
    llm.call_prompt(classification, variables={"subject": "x", "truncated_body": "y"}, client=api.client())
    assert "system" not in api.requests[0]


def test_a_pdf_is_sent_as_a_document_block_before_the_instructions(api):
    llm.call_prompt(get_active_prompt("extraction", "pdf_scanned"), document=PDF, client=api.client())
    document, text = api.requests[0]["messages"][0]["content"]
    assert document == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(PDF.data).decode()},
    }
    assert text["type"] == "text" and "PDF" in text["text"]


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "image/gif", "image/webp"])
def test_images_are_sent_as_image_blocks(api, content_type):
    image = llm.Document(content_type=content_type, data=b"image bytes")
    llm.call_prompt(get_active_prompt("extraction", "image"), document=image, client=api.client())
    block = api.requests[0]["messages"][0]["content"][0]
    assert block["type"] == "image" and block["source"]["media_type"] == content_type


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (llm.Document("application/msword", b"\xd0\xcf\x11\xe0"), "application/msword cannot be read by the model"),
        (llm.Document("image/tiff", b"II*\x00"), "only PDF and JPEG/PNG/GIF/WebP images"),
        (llm.Document("image/png", b"x" * (llm.MAX_IMAGE_BYTES + 1)), "images over 5 MB are refused by the API"),
    ],
)
def test_other_documents_are_refused_with_a_clear_reason_before_any_request(api, document, reason):
    with pytest.raises(llm.UnsupportedDocument, match=reason):
        llm.call_prompt(get_active_prompt("extraction", "image"), document=document, client=api.client())
    assert api.requests == []


def test_a_valid_answer_is_parsed_and_its_exact_cost_computed_from_the_tokens(body_prompt):
    answer = json.dumps(BODY_ANSWER)

    def handler(request):
        return httpx2.Response(200, json=message_body(answer, input_tokens=1234, output_tokens=56))

    transport = httpx2.MockTransport(handler)
    client = anthropic.Anthropic(api_key="sk-ant-test-key", http_client=httpx2.Client(transport=transport))
    result = llm.call_prompt(body_prompt, variables=body_variables(), client=client)
    assert result.success and result.data == BODY_ANSWER and result.error == ""
    assert (result.input_tokens, result.output_tokens) == (1234, 56)
    # Sonnet 4.6 list price: $3 / $15 per million tokens.
    assert result.cost_usd == Decimal("0.003702") + Decimal("0.00084")
    assert result.execution_time_ms > 0


def test_a_429_is_retried_by_the_sdk_and_the_second_answer_used(api, classification):
    api.script = [error_response(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit")]
    result = llm.call_prompt(classification, variables={"subject": "x", "truncated_body": "y"}, client=api.client())
    assert len(api.requests) == 2
    assert result.data == {"intent": "debt_statement", "confidence": 0.95}


def test_a_500_that_persists_fails_after_the_sdks_retries(api, classification):
    api.script = [error_response(500, "api_error", "Internal server error")] * 3
    with pytest.raises(llm.LLMCallFailed) as failure:
        llm.call_prompt(classification, variables={"subject": "x", "truncated_body": "y"}, client=api.client())
    assert len(api.requests) == 3  # the first try and max_retries=2
    assert failure.value.error_type == "InternalServerError"
    assert failure.value.reason == "Anthropic API error 500 (InternalServerError): Internal server error"
    assert "sk-ant-test-key" not in failure.value.reason


def test_an_overloaded_api_529_fails_as_overloaded_after_retries(api, classification):
    api.script = [error_response(529, "overloaded_error", "Overloaded")] * 3
    with pytest.raises(llm.LLMCallFailed) as failure:
        llm.call_prompt(classification, variables={"subject": "x", "truncated_body": "y"}, client=api.client())
    assert failure.value.error_type == "OverloadedError"
    assert "529" in failure.value.reason and "Overloaded" in failure.value.reason


def test_a_timeout_fails_with_a_timeout_reason(api, classification):
    api.script = [httpx2.ReadTimeout("timed out")]
    with pytest.raises(llm.LLMCallFailed) as failure:
        llm.call_prompt(
            classification, variables={"subject": "x", "truncated_body": "y"}, client=api.client(max_retries=0)
        )
    assert failure.value.error_type == "APITimeoutError"
    assert "did not answer in time" in failure.value.reason


def test_a_bad_request_is_not_retried(api, classification):
    api.script = [error_response(400, "invalid_request_error", "max_tokens: must be positive")]
    with pytest.raises(llm.LLMCallFailed, match="400 .BadRequestError.: max_tokens: must be positive"):
        llm.call_prompt(classification, variables={"subject": "x", "truncated_body": "y"}, client=api.client())
    assert len(api.requests) == 1


def test_text_that_is_not_json_is_an_unsuccessful_answer_not_an_exception(api, classification):
    api.answers["classify"] = "Das ist eine Forderungsaufstellung."
    result = llm.call_prompt(classification, variables={"subject": "x", "truncated_body": "y"}, client=api.client())
    assert not result.success and result.data is None
    assert result.raw_text == "Das ist eine Forderungsaufstellung."
    assert result.error.startswith("the answer is not valid JSON")
    assert result.input_tokens == 1200  # the call still cost tokens


def test_json_missing_required_fields_does_not_match_the_schema(api, body_prompt):
    api.answers["body"] = {"creditor_name": "EOS", "total_claim": "100,00 €", "confidence": 0.9}
    result = llm.call_prompt(body_prompt, variables=body_variables(), client=api.client())
    assert not result.success
    assert "does not match the output schema" in result.error and "is a required property" in result.error


@pytest.mark.parametrize(
    ("text", "stop_reason", "data", "error"),
    [
        ('```json\n{"intent": "spam", "confidence": 1}\n```', "end_turn", {"intent": "spam", "confidence": 1}, ""),
        ('{"intent": "spa', "max_tokens", None, "the answer was cut off at max_tokens and is not complete JSON"),
        ('["spam"]', "end_turn", None, "the answer is JSON but not an object (got list)"),
        ('{"intent": "maybe", "confidence": 1}', "end_turn", None, "output schema at intent: 'maybe' is not one of"),
    ],
)
def test_answers_are_checked_as_json_objects_against_the_schema(classification, text, stop_reason, data, error):
    parsed, why = llm.parse_answer(text, schema=classification.output_schema, stop_reason=stop_reason)
    assert parsed == data
    assert error in why if error else why == ""


def test_without_an_api_key_no_client_is_built_and_the_reason_says_so(settings):
    settings.ANTHROPIC_API_KEY = ""
    with pytest.raises(llm.LLMNotConfigured, match="ANTHROPIC_API_KEY is not set"):
        llm.build_client()


def test_the_client_is_built_from_settings(settings):
    settings.ANTHROPIC_API_KEY = "sk-ant-secret-from-settings"
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9/"
    settings.ANTHROPIC_TIMEOUT_SECONDS = 12.5
    settings.ANTHROPIC_MAX_RETRIES = 4
    client = llm.build_client()
    assert (client.api_key, str(client.base_url), client.timeout, client.max_retries) == (
        "sk-ant-secret-from-settings", "http://127.0.0.1:9/", 12.5, 4
    )
    assert llm.get_client() is llm.get_client()
    settings.ANTHROPIC_MAX_RETRIES = 1
    assert llm.get_client().max_retries == 1  # a settings change builds a new client


def test_a_new_worker_process_builds_its_client_before_its_first_task(settings, monkeypatch):
    """django-q2 sends post_spawn in each worker process it starts: the client is ready when the first
    experiment's threads need it; without an API key the worker still starts (its tasks say why they fail)."""
    monkeypatch.setattr(llm, "_clients", {})
    settings.ANTHROPIC_API_KEY = ""
    post_spawn.send(sender="django_q", proc_name="Process-1:1")
    assert llm._clients == {}
    settings.ANTHROPIC_API_KEY = "sk-ant-test-key"
    post_spawn.send(sender="django_q", proc_name="Process-1:2")
    assert list(llm._clients.values()) == [llm.get_client()]


def test_a_worker_that_cannot_build_its_client_at_start_still_starts(settings, monkeypatch, caplog):
    """django-q2 sends post_spawn before the worker's task loop: an error there would stop every task."""
    monkeypatch.setattr(llm, "_clients", {})
    settings.ANTHROPIC_API_KEY = "sk-ant-test-key"

    def broken(**settings_):
        raise ValueError("proxy URL unreadable")

    monkeypatch.setattr(llm, "build_client", lambda: broken())
    post_spawn.send(sender="django_q", proc_name="Process-1:1")
    assert llm._clients == {} and "could not be built" in caplog.text


def test_the_real_client_reaches_a_fake_server_on_localhost_through_base_url(settings, classification):
    answer = json.dumps({"intent": "rejection", "confidence": 0.91})
    with FakeAnthropicServer(lambda payload: (200, message_body(answer, model=payload["model"]))) as server:
        settings.ANTHROPIC_API_KEY = "sk-ant-test-key"
        settings.ANTHROPIC_BASE_URL = server.url
        result = llm.call_prompt(classification, variables={"subject": "Ablehnung", "truncated_body": "Nein."})
    assert result.data == {"intent": "rejection", "confidence": 0.91}
    assert server.requests[0]["model"] == "claude-haiku-4-5-20251001"
