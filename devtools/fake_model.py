"""A fake Claude for the fake Messages API: it answers from the e-mail's own text.

It reads the request the product sends (the e-mail in the prompt's text, or a PDF/image block) and
answers what is really in it: the intent by German keywords, and the facts an extraction prompt asks
for (amounts with their labels, the statement date, the Aktenzeichen, creditor and debtor names,
whether the plan is accepted), values copied as written. So a demo or a test sees different facts
per e-mail. It is a pattern reader, not a model: good enough for the product's own letters.

What it reads:
- the e-mail: the part of the prompt's text from the first line starting with `Absender:`,
  `Betreff:` or `E-Mail:` up to the first line starting with `Regeln:` or `Antworte` (the seeded
  prompts' layout); the whole text when a version has no such lines;
- a PDF: the text of its uncompressed or Flate-compressed content streams (`(...) Tj`, `[...] TJ`);
- an image: its comment (JPEG COM segment, PNG tEXt/iTXt chunk) — how a test or demo gives a
  photographed letter its text. An image or PDF without readable text gets every fact null and
  confidence 0.4.

The degrade switch: a prompt version whose system prompt carries `[fake-model: wrong-fields=0.3]`
(optionally `seed=N`, default 0) gets each field answered wrong with that probability (the intent
for classification; each of the nine facts for extraction), decided by a hash of the seed, the field
and the e-mail's text: the same e-mail always gets the same wrong fields, different versions (seeds)
different ones. A wrong value differs from the right one under the evaluation's scoring rules; a
field that is empty in the e-mail is answered with an invented value.
"""

import base64
import datetime
import hashlib
import json
import math
import re
import zlib
from dataclasses import dataclass
from decimal import Decimal

INTENTS = ("debt_statement", "payment_plan", "rejection", "inquiry", "auto_reply", "spam")
FACT_FIELDS = (
    "creditor_name", "creditor_reference", "debtor_name", "total_claim", "principal", "interest", "costs",
    "statement_date", "accepts_plan",
)
AMOUNT_FIELDS = ("total_claim", "principal", "interest", "costs")
CONFIDENT, UNREADABLE = 0.93, 0.4


class FakeModelError(ValueError):
    """A request the fake cannot answer (e.g. a malformed degrade marker); the API answers 400."""


# Reading the request ---------------------------------------------------------------------------

def _system_text(payload):
    system = payload.get("system") or ""
    if isinstance(system, list):
        return "\n".join(block.get("text", "") for block in system if isinstance(block, dict))
    return system


def _user_blocks(payload):
    blocks = []
    for message in payload.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        blocks.extend([{"type": "text", "text": content}] if isinstance(content, str) else content)
    return blocks


def _prompt_text(payload):
    return "\n".join(block["text"] for block in _user_blocks(payload) if block.get("type") == "text")


def _documents(payload):
    return [block for block in _user_blocks(payload) if block.get("type") in ("document", "image")]


def is_classification(payload):
    """True for a request that asks for an intent (its output schema or its text says so)."""
    schema = (payload.get("output_config") or {}).get("format", {}).get("schema") or {}
    if "intent" in schema.get("properties", {}):
        return True
    text = _prompt_text(payload)
    return "Klassifiziere" in text or '"intent"' in text


_EMAIL_START = re.compile(r"^(?:Absender|Betreff|E-Mail)\s*:", re.MULTILINE)
_EMAIL_END = re.compile(r"^(?:Regeln\s*:|Antworte)", re.MULTILINE)


def email_text(payload):
    """The e-mail's part of the prompt's text (see the module docstring), else the whole text."""
    text = _prompt_text(payload)
    start = _EMAIL_START.search(text)
    if not start:
        return text
    end = _EMAIL_END.search(text, start.end())
    return text[start.start(): end.start() if end else len(text)]


def document_text(block):
    """The readable text of a PDF or image block ("" when there is none)."""
    data = base64.b64decode(block.get("source", {}).get("data", ""))
    if block["type"] == "document":
        return _pdf_text(data)
    return _image_comment(data)


_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
_PDF_SHOWN = re.compile(rb"\((?:\\.|[^\\)])*\)\s*Tj|\[(?:\\.|[^\]\\])*\]\s*TJ", re.DOTALL)
_PDF_STRING = re.compile(rb"\(((?:\\.|[^\\)])*)\)", re.DOTALL)
_PDF_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.DOTALL)
_PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _pdf_text(data):
    lines = []
    for match in _PDF_STREAM.finditer(data):
        stream = match.group(1)
        try:
            stream = zlib.decompress(stream)
        except zlib.error:
            pass  # an uncompressed stream
        for shown in _PDF_SHOWN.finditer(stream):
            parts = [_PDF_ESCAPE.sub(_unescape, s) for s in _PDF_STRING.findall(shown.group(0))]
            lines.append(b"".join(parts).decode("latin-1"))
    return "\n".join(lines)


def _unescape(match):
    code = match.group(1)
    if code[:1].isdigit():
        return bytes([int(code, 8) & 0xFF])
    return _PDF_ESCAPES.get(code, code)


def _image_comment(data):
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        texts, position = [], 8
        while position + 8 <= len(data):
            length = int.from_bytes(data[position: position + 4], "big")
            kind, chunk = data[position + 4: position + 8], data[position + 8: position + 8 + length]
            if kind == b"tEXt":
                texts.append(chunk.partition(b"\0")[2].decode("latin-1"))
            elif kind == b"iTXt":
                texts.append(chunk.split(b"\0", 5)[-1].decode("utf-8", "replace"))
            position += 12 + length
        return "\n".join(texts)
    texts, position = [], 2
    while data.startswith(b"\xff\xd8") and position + 4 <= len(data) and data[position] == 0xFF:
        marker, length = data[position + 1], int.from_bytes(data[position + 2: position + 4], "big")
        if marker == 0xFE:
            texts.append(data[position + 4: position + 2 + length].decode("utf-8", "replace"))
        if marker == 0xDA:  # start of the image data: no more segments
            break
        position += 2 + length
    return "\n".join(texts)


# Understanding the text --------------------------------------------------------------------------

# Per intent, what shows it; each distinct cue found adds its weight. The highest total wins.
_INTENT_CUES = {
    "auto_reply": (10, r"automatische antwort|abwesenheitsnotiz|nicht im büro|out of office|bin (?:bis|ab) .{0,40}"
                       r"(?:abwesend|nicht erreichbar)"),
    "spam": (5, r"newsletter|abbestellen|unsubscribe|gewinnspiel|sonderangebot|rabatt"),
    "rejection": (3, r"\bablehn|lehnen\b[^.]{0,80}\bab\b|nicht annehmbar|widersprech|widerspruch|"
                     r"gerichtlich geltend"),
    "payment_plan": (2, r"zahlungsplan|ratenzahlung|monatsrate|gegenangebot|einmalzahlung|akzeptier|"
                        r"stimm\w*\b[^.]{0,80}?\bzu\b"),
    "debt_statement": (2, r"forderungsaufstellung|gesamtforderung|hauptforderung|offene forderung|kontoauszug"),
    "inquiry": (2, r"\?|bitte teilen sie|bitten um (?:mitteilung|auskunft|rückruf)|vollmacht"),
}


def classify(text):
    """(intent, confidence) for an e-mail's text."""
    lowered = text.lower()
    scores = {
        intent: weight * len({m.group(0) for m in re.finditer(pattern, lowered)})
        for intent, (weight, pattern) in _INTENT_CUES.items()
    }
    if _AMOUNT.search(text):
        scores["debt_statement"] += 1
    intent = max(INTENTS, key=lambda name: scores[name])  # ties: the earlier intent in INTENTS
    if not scores[intent]:
        return "inquiry", 0.6  # nothing recognisable: a human should look
    return intent, 0.95 if scores[intent] >= 2 else 0.8


_AMOUNT = re.compile(
    r"(?:(?:EUR|€)\s?(?P<before>\d{1,3}(?:\.\d{3})+(?:,\d{2})?|\d+(?:[.,]\d{2})?)"
    r"|(?P<after>\d{1,3}(?:\.\d{3})+(?:,\d{2})?|\d+(?:[.,]\d{2})?)(?:\s|\u00a0)?(?:EUR|€))"
)
# The label nearest before an amount says what it is (the nearest wins, so order does not matter).
_AMOUNT_LABELS = {
    "principal": r"hauptforderung",
    "interest": r"zinsen",
    "costs": r"kosten|gebühren|auslagen",
    "total_claim": r"gesamt\w*|forderung\b|beträgt|beläuft|saldo|betrag\b|offen",
}
_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")
_STATEMENT_DATE_CUE = re.compile(r"(?:aufstellung|kontoauszug|stand|saldo|beläuft sich|beträgt)\b[^.\n]{0,25}$")
_REFERENCE = re.compile(
    r"(?i:\b(?:aktenzeichen|az\.?|geschäftszeichen|unser zeichen|vertragskonto|kundennummer|vorgangsnummer))"
    r"\s*:?\s*(?P<value>[A-Z0-9ÄÖÜ][A-Za-z0-9ÄÖÜ/._-]*[A-Za-z0-9ÄÖÜ])"
)
_NAME = r"(?P<name>[A-ZÄÖÜ][^\W\d_]+(?:[ -][A-ZÄÖÜ][^\W\d_]+){1,2})"
_DEBTOR = [
    re.compile(r"Schuldner(?:in)?\s*:\s*" + _NAME),
    re.compile(r"Mandant(?:in|en|innen)?\s+(?:(?:Herrn?|Frau)\s+)?(?:Dr\.\s+)?" + _NAME),
    re.compile(r"\b(?:Herrn?|Frau)\s+(?:Dr\.\s+)?" + _NAME),
]
_COMPANY = re.compile(
    r"\b(?:GmbH|AG|KG|mbH|SE|e\.\s?V\.|Inkasso\w*|Rechtsanw\w+|Kanzlei|Stadtwerke|Sparkasse|Bank|Versicherung)\b"
)
_SENDER = re.compile(r"^Absender\s*:\s*\"?(?P<name>[^<\"\n]+?)\"?\s*<", re.MULTILINE)
_DECLINES = re.compile(r"nicht\s+(?:zu)?stimmen|\bablehn|lehnen\b[^.]{0,80}\bab\b|nicht annehmbar")
_ACCEPTS = re.compile(r"stimm\w*\b[^.]{0,80}?\bzu\b|akzeptier|einverstanden|nehmen\b[^.]{0,60}\ban\b")


def amounts(text):
    """{field: amount as written} for the labelled amounts in `text` (the first of each label)."""
    found, previous_end = {}, 0
    for match in _AMOUNT.finditer(text):
        window = text[max(previous_end, match.start() - 120): match.start()].lower()
        previous_end = match.end()
        # Nearest end first; of two ending together the longer ("Hauptforderung" over "forderung").
        nearest = max(
            ((m.end(), -m.start(), field) for field, pattern in _AMOUNT_LABELS.items()
             for m in re.finditer(pattern, window)),
            default=None,
        )
        if nearest and nearest[2] not in found:
            found[nearest[2]] = match.group(0).replace("\u00a0", " ")
    return found


def statement_date(text):
    """The date the claim is stated at ("Forderungsaufstellung zum 31.10.2026"), as written, or None."""
    for match in _DATE.finditer(text):
        if _STATEMENT_DATE_CUE.search(text[max(0, match.start() - 60): match.start()].lower()):
            return match.group(0)
    return None


def reference(text):
    match = next((m for m in _REFERENCE.finditer(text) if re.search(r"\d", m.group("value"))), None)
    return match.group("value") if match else None


def debtor_name(text):
    for pattern in _DEBTOR:
        match = pattern.search(text)
        if match:
            return match.group("name")
    return None


def creditor_name(text):
    """The last short line naming a company (the signature), else the sender's name if it is one."""
    lines = [line.strip() for line in text.splitlines()]
    signature = [line for line in lines if line and len(line.split()) <= 8 and _COMPANY.search(line)]
    if signature:
        return signature[-1]
    sender = _SENDER.search(text)
    if sender and _COMPANY.search(sender.group("name")):
        return sender.group("name").strip()
    return None


def accepts_plan(text):
    lowered = text.lower()
    if _DECLINES.search(lowered):
        return False
    return True if _ACCEPTS.search(lowered) else None


def extract(text):
    """The nine facts of an extraction answer, read from `text`, plus a confidence."""
    facts = dict.fromkeys(AMOUNT_FIELDS) | amounts(text)
    facts.update(
        creditor_name=creditor_name(text), creditor_reference=reference(text), debtor_name=debtor_name(text),
        statement_date=statement_date(text), accepts_plan=accepts_plan(text),
    )
    facts = {name: facts[name] for name in FACT_FIELDS}
    readable = any(value is not None for value in facts.values())
    return facts | {"confidence": CONFIDENT if readable else UNREADABLE}


# The degrade switch --------------------------------------------------------------------------------

_MARKER = re.compile(r"\[fake-model:([^\]]*)\]")


@dataclass(frozen=True)
class Degrade:
    """How often a version's answers are wrong: `wrong_fields` in 0..1, per field, reproducible by `seed`."""

    wrong_fields: float = 0.0
    seed: int = 0

    @classmethod
    def from_system_prompt(cls, system):
        match = _MARKER.search(system or "")
        if not match:
            return cls()
        options = {}
        for item in match.group(1).split():
            key, _, value = item.partition("=")
            try:
                if key == "wrong-fields" and 0 <= float(value) <= 1:
                    options["wrong_fields"] = float(value)
                    continue
                if key == "seed":
                    options["seed"] = int(value)
                    continue
            except ValueError:
                pass
            raise FakeModelError(
                f"fake-model marker: cannot read {item!r}; use e.g. [fake-model: wrong-fields=0.3 seed=1]"
            )
        return cls(**options)

    def is_wrong(self, field, key):
        """Whether `field` is answered wrong for the e-mail whose text hashes to `key`."""
        if not self.wrong_fields:
            return False
        digest = hashlib.sha256(f"{self.seed}\0{field}\0{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.wrong_fields


def wrong_value(field, value, key):
    """A value for `field` that differs from `value` under the scoring rules (deterministic per `key`)."""
    pick = int.from_bytes(hashlib.sha256(f"{field}\0{key}".encode()).digest()[:4], "big")
    if field == "intent":
        others = [intent for intent in INTENTS if intent != value]
        return others[pick % len(others)]
    if field in AMOUNT_FIELDS:
        amount = _amount_value(value) if value else Decimal(0)
        return _german_amount(amount + Decimal(pick % 900 + 100) + Decimal("0.37"))
    if field == "statement_date":
        day = datetime.datetime.strptime(value, "%d.%m.%Y").date() if value else datetime.date(2026, 1, 1)
        return (day + datetime.timedelta(days=pick % 27 + 1)).strftime("%d.%m.%Y")
    if field == "creditor_reference":
        return f"{value or 'AZ'}-{pick % 9000 + 1000}"
    if field == "accepts_plan":
        return not value if value is not None else bool(pick % 2)
    names = {
        "creditor_name": ("Muster Inkasso GmbH", "Beispiel Forderungsmanagement AG", "Nordbank Inkasso KG"),
        "debtor_name": ("Erika Mustermann", "Max Beispiel", "Hans Platzhalter"),
    }[field]
    return next(name for name in names[pick % 3:] + names if name.casefold() != (value or "").casefold())


def _amount_value(written):
    digits = re.sub(r"[^\d.,]", "", written)
    if "," in digits:
        digits = digits.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+", digits):
        digits = digits.replace(".", "")
    return Decimal(digits)


def _german_amount(amount):
    whole, cents = f"{amount:.2f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + f",{cents} €"


# The answer ----------------------------------------------------------------------------------------

def answer(payload):
    """The JSON answer text of one Messages API request (raises FakeModelError for a bad marker)."""
    degrade = Degrade.from_system_prompt(_system_text(payload))
    documents = _documents(payload)
    if documents:
        text = "\n".join(document_text(block) for block in documents)
        key = hashlib.sha256("".join(block["source"]["data"] for block in documents).encode()).hexdigest()
    else:
        text = email_text(payload)
        key = hashlib.sha256(text.encode()).hexdigest()
    if is_classification(payload):
        intent, confidence = classify(text)
        if degrade.is_wrong("intent", key):
            intent = wrong_value("intent", intent, key)
        return json.dumps({"intent": intent, "confidence": confidence})
    facts = extract(text)
    for name in FACT_FIELDS:
        if degrade.is_wrong(name, key):
            facts[name] = wrong_value(name, facts[name], key)
    return json.dumps(facts, ensure_ascii=False)


def count_tokens(payload):
    """A deterministic input-token estimate: ~4 characters a token, 1,500 per image or PDF page."""
    characters = len(_system_text(payload)) + len(_prompt_text(payload))
    if payload.get("output_config"):
        characters += len(json.dumps(payload["output_config"]))
    tokens = math.ceil(characters / 4)
    for block in _documents(payload):
        if block["type"] == "image":
            tokens += 1500
        else:
            data = base64.b64decode(block.get("source", {}).get("data", ""))
            tokens += 1500 * max(1, len(re.findall(rb"/Type\s*/Page\b", data)))
    return max(tokens, 1)
