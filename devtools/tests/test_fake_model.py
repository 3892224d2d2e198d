"""The fake model reads each e-mail's own facts, and a version's degrade marker makes a share of them wrong."""

import base64
import json
import re

import pytest

from devtools import fake_model
from devtools.soak import soak_message, statement_pdf
from extraction.ingest import parse_message
from extraction.normalise import normalise_extraction
from extraction.tests.conftest import raw_email
from prompts.selectors import get_active_prompt

pytestmark = pytest.mark.django_db


def request(prompt_key, *, system="", document=None, **variables):
    """The Messages API payload the product sends for an active prompt (as extraction.llm builds it)."""
    rendered = get_active_prompt(*prompt_key).render(variables)
    content = [document] if document else []
    content.append({"type": "text", "text": rendered.user})
    return {"model": "claude-sonnet-4-6", "max_tokens": 1024, "system": system or rendered.system,
            "messages": [{"role": "user", "content": content}]}


def classification(message, system=""):
    payload = request(("classification", "email_intent"), system=system, subject=message.subject,
                      truncated_body=message.body_text[:3000])
    return json.loads(fake_model.answer(payload))


def body_extraction(message, system=""):
    payload = request(("extraction", "email_body"), system=system, subject=message.subject,
                      body=message.body_text, sender=message.sender)
    return json.loads(fake_model.answer(payload))


def pdf_block(data):
    return {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                           "data": base64.b64encode(data).decode()}}


def scored(name, value):
    """A fact as the evaluation compares it: normalised, references without whitespace, names case-folded."""
    normalised = normalise_extraction({name: value}).fields[name]
    if name == "creditor_reference":
        return re.sub(r"\s+", "", normalised).casefold()
    if name in ("creditor_name", "debtor_name"):
        return " ".join(normalised.split()).casefold()
    return normalised


@pytest.mark.parametrize(("eml", "intent"), [
    ("acceptance_utf8_qp.eml", "payment_plan"),
    ("counter_offer_base64.eml", "payment_plan"),
    ("rejection_windows1252.eml", "rejection"),
    ("statement_iso8859_qp.eml", "debt_statement"),
    ("statement_with_pdf.eml", "debt_statement"),
    ("out_of_office.eml", "auto_reply"),
])
def test_the_intent_is_read_from_the_email(eml, intent):
    answer = classification(parse_message(raw_email(eml)))
    assert answer["intent"] == intent and answer["confidence"] >= 0.8


def test_the_facts_are_the_ones_written_in_each_email():
    statement = body_extraction(parse_message(raw_email("statement_iso8859_qp.eml")))
    rejection = body_extraction(parse_message(raw_email("rejection_windows1252.eml")))
    assert statement == {
        "creditor_name": "Otto Payment Solutions GmbH", "creditor_reference": "OTTO-5531902-Ö",
        "debtor_name": "Gülay Öztürk", "total_claim": "1.493,18 EUR", "principal": "1.245,90 EUR",
        "interest": "87,33 EUR", "costs": "159,95 EUR", "statement_date": "31.10.2026", "accepts_plan": None,
        "confidence": 0.93,
    }
    assert rejection == {
        "creditor_name": "Vodafone GmbH – Forderungsmanagement", "creditor_reference": "77-3310/26",
        "debtor_name": "Anna Schäfer", "total_claim": "4.512,80 €", "principal": None, "interest": None,
        "costs": None, "statement_date": "10.11.2026", "accepts_plan": False, "confidence": 0.93,
    }


def test_different_emails_get_different_facts():
    answers = [body_extraction(parse_message(soak_message(n, with_pdf=False))) for n in range(20)]
    assert len({a["creditor_reference"] for a in answers}) == 20
    assert len({a["total_claim"] for a in answers}) == 20
    assert len({a["debtor_name"] for a in answers}) == 5  # the soak's five clients, in turn
    assert all(a["accepts_plan"] is True and a["confidence"] == 0.93 for a in answers)


def test_a_pdf_statement_is_read_from_its_content_stream():
    pdf = statement_pdf(["Forderungsaufstellung vom 05.11.2026", "Schuldner: Thomas Becker  Az.: 2026/118-BK",
                         "Hauptforderung 1.980,00 EUR  Zinsen 143,27 EUR  Kosten 96,40 EUR", "Gesamt 2.219,67 EUR"])
    answer = json.loads(fake_model.answer(request(("extraction", "pdf_scanned"), document=pdf_block(pdf))))
    assert answer == {
        "creditor_name": None, "creditor_reference": "2026/118-BK", "debtor_name": "Thomas Becker",
        "total_claim": "2.219,67 EUR", "principal": "1.980,00 EUR", "interest": "143,27 EUR", "costs": "96,40 EUR",
        "statement_date": "05.11.2026", "accepts_plan": None, "confidence": 0.93,
    }


def test_an_image_is_read_from_its_comment_and_one_without_text_is_answered_unsure():
    letter = "EOS Deutscher Inkasso-Dienst GmbH\nAz.: EOS-88123456\nOffene Forderung: 1.312,40 €".encode()
    jpeg = b"\xff\xd8\xff\xfe" + (len(letter) + 2).to_bytes(2, "big") + letter + b"\xff\xda\x00\x02\xff\xd9"
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                         "data": base64.b64encode(jpeg).decode()}}
    answer = json.loads(fake_model.answer(request(("extraction", "image"), document=image)))
    assert (answer["creditor_name"], answer["creditor_reference"], answer["total_claim"]) == (
        "EOS Deutscher Inkasso-Dienst GmbH", "EOS-88123456", "1.312,40 €")
    blank = {**image, "source": {**image["source"], "data": base64.b64encode(b"\xff\xd8\xff\xd9").decode()}}
    unsure = json.loads(fake_model.answer(request(("extraction", "image"), document=blank)))
    assert unsure == dict.fromkeys(fake_model.FACT_FIELDS) | {"confidence": 0.4}


def test_the_degrade_marker_answers_about_that_share_of_the_fields_wrong_and_each_wrong_value_scores_wrong():
    messages = [parse_message(soak_message(n, with_pdf=False)) for n in range(200)]
    for share in (0.1, 0.3, 0.7):
        marker = f"Du bist ein Assistent. [fake-model: wrong-fields={share} seed=7]"
        wrong = checked = 0
        for message in messages:
            right, degraded = body_extraction(message), body_extraction(message, system=marker)
            for name in fake_model.FACT_FIELDS:
                checked += 1
                if degraded[name] != right[name]:
                    wrong += 1
                    assert scored(name, degraded[name]) != scored(name, right[name]), (name, degraded[name])
        assert abs(wrong / checked - share) < 0.04, (share, wrong / checked)


def test_the_degrade_marker_makes_intents_wrong_too():
    messages = [parse_message(soak_message(n, with_pdf=False)) for n in range(200)]
    marker = "[fake-model: wrong-fields=0.5]"
    wrong = sum(classification(m)["intent"] != classification(m, system=marker)["intent"] for m in messages)
    assert 80 <= wrong <= 120


def test_degraded_answers_are_the_same_for_the_same_email_and_seed_and_differ_with_another_seed():
    message = parse_message(raw_email("statement_iso8859_qp.eml"))
    first = body_extraction(message, system="[fake-model: wrong-fields=0.5 seed=1]")
    assert body_extraction(message, system="[fake-model: wrong-fields=0.5 seed=1]") == first
    assert body_extraction(message, system="[fake-model: wrong-fields=0.5 seed=2]") != first


@pytest.mark.parametrize("marker", ["[fake-model: wrong-fields=2]", "[fake-model: wrong=0.3]",
                                   "[fake-model: seed=x]"])
def test_a_malformed_marker_is_a_clear_error(marker):
    with pytest.raises(fake_model.FakeModelError, match="use e.g. \\[fake-model: wrong-fields=0.3 seed=1\\]"):
        body_extraction(parse_message(raw_email("statement_iso8859_qp.eml")), system=marker)


def test_token_counts_grow_with_the_email_and_count_a_pdf_by_its_pages():
    short = request(("extraction", "email_body"), subject="Kurz", body="Forderung 10,00 €", sender="a@b.example")
    long = request(("extraction", "email_body"), subject="Lang", body="Forderung 10,00 €. " * 400, sender="a@b.example")
    assert 0 < fake_model.count_tokens(short) < fake_model.count_tokens(long)
    one_page = request(("extraction", "pdf_scanned"), document=pdf_block(statement_pdf(["Seite"])))
    two_pages = request(("extraction", "pdf_scanned"),
                        document=pdf_block(statement_pdf(["Seite"]) + b"/Type /Page /Parent 2 0 R"))
    assert fake_model.count_tokens(two_pages) - fake_model.count_tokens(one_page) == 1500
