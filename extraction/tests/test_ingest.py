"""Raw MIME becomes clean text and files: encodings, charsets, HTML-only mail, attachments, broken files."""

import datetime
import hashlib

import pytest

from extraction.ingest import (
    MalformedMessage,
    expand_paths,
    html_to_text,
    iter_messages,
    parse_message,
    sanitise_filename,
    sniff_content_type,
)
from extraction.tests.conftest import DATA, raw_email


def test_utf8_quoted_printable_plain_text_and_encoded_headers_are_decoded():
    message = parse_message(raw_email("acceptance_utf8_qp.eml"))
    assert message.message_id == "<20261112094512.4471@creditreform-inkasso-sued.example>"
    assert message.sender == "Sabine Krüger <forderungen@creditreform-inkasso-sued.example>"
    assert message.subject == "AZ INK-2026-0048815 – Zustimmung zum Vergleich Jürgen Weiß"
    assert "Die Gesamtforderung beträgt derzeit\n2.847,13 €" in message.body_text
    assert message.received_at == datetime.datetime(2026, 11, 12, 8, 45, 12, tzinfo=datetime.UTC)
    assert "<p>Herrn Jürgen Weiß.</p>" in message.body_html
    assert message.attachments == []


def test_iso_8859_1_quoted_printable_german_text_is_decoded():
    message = parse_message(raw_email("statement_iso8859_qp.eml"))
    assert message.subject == "Forderungsaufstellung Gülay Öztürk"
    assert "Frau Gülay Öztürk übersenden" in message.body_text
    assert "Aktenzeichen: OTTO-5531902-Ö" in message.body_text


def test_windows_1252_text_labelled_iso_8859_1_keeps_its_euro_signs():
    message = parse_message(raw_email("rejection_windows1252.eml"))
    assert "auf 4.512,80 €." in message.body_text
    assert "77-3310/26 – bitte" in message.body_text
    assert message.sender == "Vodafone Forderungsmanagement <fm@vodafone-fm.example>"


def test_base64_utf8_body_and_base64_subject_are_decoded():
    message = parse_message(raw_email("counter_offer_base64.eml"))
    assert message.subject == "Gegenangebot Ratenzahlung – VK 4400128733"
    assert "(Schuldner: Mehmet Yılmaz," in message.body_text
    assert "Die Gesamtforderung beträgt EUR 2280.00." in message.body_text


def test_html_only_mail_gets_a_text_body_without_tags_scripts_or_styles():
    message = parse_message(raw_email("photographed_letter.eml"))
    assert message.body_text.startswith("Hallo,")
    assert "Betrag von 1.312,40 € drauf & ein Aktenzeichen." in message.body_text
    assert "alert" not in message.body_text and "margin" not in message.body_text
    assert "<script>" in message.body_html  # kept as received; the admin only ever shows it escaped


def test_attachments_come_out_decoded_with_names_and_sniffed_types():
    pdf = parse_message(raw_email("statement_with_pdf.eml")).attachments
    assert [(a.name, a.content_type, a.is_inline) for a in pdf] == [
        ("Forderungsaufstellung_2026-118-BK.pdf", "application/pdf", False)  # declared octet-stream
    ]
    assert pdf[0].data.startswith(b"%PDF-1.4")
    image = parse_message(raw_email("photographed_letter.eml")).attachments
    assert [(a.name, a.content_type) for a in image] == [("Brief EOS März.jpeg", "image/jpeg")]  # RFC 2231 name
    assert image[0].data.startswith(b"\xff\xd8\xff")


def test_a_message_without_message_id_is_identified_by_a_stable_hash_of_its_bytes():
    raw = b"From: Inkasso Nord <post@inkasso-nord.example>\r\nSubject: Forderung\r\n\r\nBitte zahlen.\r\n"
    assert parse_message(raw).message_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert parse_message(raw).message_id == parse_message(bytes(raw)).message_id


def test_raw_8bit_headers_are_read_as_utf8_or_windows_1252():
    raw = "From: Müller Inkasso <a@b.example>\nSubject: Forderung Schäfer\n\nText\n".encode("cp1252")
    message = parse_message(raw)
    assert message.sender == "Müller Inkasso <a@b.example>"
    assert message.subject == "Forderung Schäfer"


def test_nul_characters_are_removed_because_postgresql_text_cannot_hold_them():
    raw = b"From: a@b.example\nSubject: x\nContent-Type: text/plain; charset=utf-8\n\nBetrag\x00 100 EUR\n"
    assert parse_message(raw).body_text == "Betrag 100 EUR\n"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "no e-mail headers found"),
        (b"Subject: Forderung\n\nohne Absender\n", "no From header"),
    ],
)
def test_bytes_that_are_not_an_e_mail_are_refused_with_the_reason(raw, reason):
    with pytest.raises(MalformedMessage, match=reason):
        parse_message(raw)


def test_a_multipart_whose_boundary_never_appears_is_refused_as_broken_mime():
    with pytest.raises(MalformedMessage, match="boundary 'BOUNDARY_A' never appears"):
        parse_message(raw_email("broken_mime.eml"))


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\fm\\Forderung.pdf", "Forderung.pdf"),
        ("..", "attachment.pdf"),
        (".htaccess", "htaccess"),
        ("Forderung\x00\r\n.pdf", "Forderung.pdf"),
        ("Brief <EOS>|März?.jpeg", "Brief_EOS_März_.jpeg"),
        ("", "attachment.pdf"),
    ],
)
def test_attachment_names_are_sanitised_against_path_traversal_and_control_characters(name, safe):
    assert sanitise_filename(name, "application/pdf") == safe


def test_very_long_attachment_names_are_shortened_keeping_the_extension():
    name = sanitise_filename("Forderungsaufstellung" * 20 + ".pdf")
    assert len(name) <= 150 and name.endswith(".pdf")


@pytest.mark.parametrize(
    ("data", "declared", "sniffed"),
    [
        (b"%PDF-1.7 ...", "application/octet-stream", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n....", "image/jpeg", "image/png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "application/octet-stream", "image/webp"),
        (b"PK\x03\x04 docx", "application/vnd.openxmlformats", "application/vnd.openxmlformats"),
    ],
)
def test_content_types_are_taken_from_the_bytes_when_recognisable(data, declared, sniffed):
    assert sniff_content_type(declared, data) == sniffed


def test_html_to_text_puts_blocks_on_lines_and_unescapes_entities():
    assert html_to_text("<div>Summe:&nbsp;100&nbsp;&euro;</div><p>A &amp; B<br>C</p>") == "Summe: 100 €\n\nA & B\nC"


def test_directories_are_walked_for_eml_and_mbox_files_in_a_stable_order(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ["b/2.eml", "a.eml", "notes.txt", "box.mbox"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in expand_paths([tmp_path])] == ["a.eml", "box.mbox", "b/2.eml"]


def test_an_mbox_yields_each_message_labelled_with_its_position():
    items = list(iter_messages([DATA / "three_answers.mbox"]))
    assert [label.rsplit("#", 1)[1] for _, label, _ in items] == ["1", "2", "3"]
    assert [parse_message(raw).subject for _, _, raw in items] == [
        "Ihr Schreiben vom 02.11.2026", "Kontokorrent 1234567", "Zahlungserinnerung"
    ]


def test_an_unreadable_path_is_reported_as_an_error_item_not_raised(tmp_path):
    [(_, label, error)] = list(iter_messages([tmp_path / "missing.eml"]))
    assert label.endswith("missing.eml") and isinstance(error, OSError)
