"""Raw MIME messages (.eml files, mbox files, directories of them) turned into plain Python values.

Nothing here touches the database: `parse_message` reads one message, `iter_messages` walks the
paths an operator gives to `ingest_emails`. Creditor mail is old-fashioned and often slightly
wrong (ISO-8859-1 labels on Windows-1252 text, 8-bit headers, `application/octet-stream` PDFs), so
decoding is forgiving; a message that has no usable structure at all is a MalformedMessage.
"""

import email
import email.policy
import functools
import hashlib
import mailbox
import mimetypes
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC
from email import errors as email_errors
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote_to_bytes

MESSAGE_ID_MAX_LENGTH = 998
# Labels that in practice mean "Windows-1252" (as in the WHATWG encoding standard): Outlook writes
# € and typographic quotes as 0x80-0x9F under an ISO-8859-1 label.
_WINDOWS_1252_ALIASES = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin-1", "latin1", "l1", "windows-1252", "cp1252"}
# Magic numbers of the types the LLM can read; senders' content types are often generic or wrong.
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
EMAIL_FILE_SUFFIXES = {".eml", ".mbox", ".mbx"}


class _ForgivingPolicy(email.policy.EmailPolicy):
    """policy.default, except that a header it cannot parse reads as its plain text, and each header
    value is parsed once.

    The stdlib parses a header on every access and raises on some hostile ones (RFC 2231 parameters
    in the "undefined" or "punycode" charset raise a plain UnicodeError from any access to
    Content-Disposition); as text, the rest of the message stays readable.
    """

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name"):
            return value
        value = _LINE_BREAKS.sub("", value)
        try:
            return _parsed_header(self.header_factory, name, value)
        except (ValueError, LookupError, TypeError, IndexError, AttributeError, email_errors.HeaderParseError):
            return value


@functools.lru_cache(maxsize=1024)
def _parsed_header(factory, name, value):
    # Header objects are immutable; the same Content-Type is read ten times while one message is parsed.
    return factory(name, value)


_POLICY = _ForgivingPolicy()
_LINE_BREAKS = re.compile(r"\n|\r")


class MalformedMessage(ValueError):
    """The bytes are not a usable e-mail; the message says why."""


@dataclass
class ParsedAttachment:
    name: str
    content_type: str
    data: bytes
    is_inline: bool = False


@dataclass
class ParsedMessage:
    message_id: str
    sender: str
    subject: str
    body_text: str
    body_html: str
    received_at: object  # aware datetime or None
    attachments: list = field(default_factory=list)


def parse_message(raw):
    """Parse one RFC 5322 message from bytes; raises MalformedMessage when it is not one."""
    if not raw or not raw.strip():
        raise MalformedMessage("the file is empty")
    message = email.message_from_bytes(raw, policy=_POLICY)
    if not message.keys():
        raise MalformedMessage("no e-mail headers found")
    broken = _structure_problem(message)
    if broken:
        raise MalformedMessage(f"broken MIME structure: {broken}")
    sender = _header(message, "From")
    if not sender:
        raise MalformedMessage("no From header")
    plain, html_part, files = _split_parts(message)
    body_html = _clean(_text_of(html_part)) if html_part is not None else ""
    body_text = _clean(_text_of(plain)) if plain is not None else html_to_text(body_html)
    return ParsedMessage(
        message_id=_message_id(message, raw),
        sender=sender[:998],
        subject=_header(message, "Subject"),
        body_text=body_text,
        body_html=body_html,
        received_at=_date(message),
        attachments=[_attachment(part, content_type, disposition) for part, content_type, disposition in files],
    )


def iter_messages(paths):
    """Yield (file, label, raw bytes or exception) for every message in the given files and directories.

    A directory is walked for .eml/.mbox files; an mbox (by suffix, or a file starting with a
    "From " line) yields one item per message, labelled `path#n`.
    """
    for path in expand_paths(paths):
        try:
            with open(path, "rb") as handle:
                head = handle.read(5)
            if path.suffix.lower() in {".mbox", ".mbx"} or head == b"From ":
                yield from _mbox_messages(path)
            else:
                yield path, str(path), path.read_bytes()
        except OSError as exc:
            yield path, str(path), exc


def expand_paths(paths):
    """The files named, and the e-mail files found below the directories named, in a stable order."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for file_name in sorted(files):
                    if Path(file_name).suffix.lower() in EMAIL_FILE_SUFFIXES:
                        yield Path(root) / file_name
        else:
            yield path


def _mbox_messages(path):
    box = mailbox.mbox(path, create=False)
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            try:
                yield path, f"{path}#{number}", box.get_bytes(key)
            except (OSError, ValueError, KeyError) as exc:
                yield path, f"{path}#{number}", exc
    finally:
        box.close()


def _structure_problem(message):
    """Why the MIME structure is lost (not just sloppy), or None; the parser only records defects."""
    for part in message.walk():
        for defect in part.defects:
            if isinstance(defect, email_errors.NoBoundaryInMultipartDefect):
                return "a multipart part declares no boundary"
            if isinstance(defect, email_errors.StartBoundaryNotFoundDefect):
                return f"the multipart boundary {part.get_boundary()!r} never appears"
            if isinstance(defect, email_errors.MultipartInvariantViolationDefect):
                return "a multipart part has no parts"
    return None


def _clean(text):
    # PostgreSQL text cannot hold NUL, and lone surrogates from broken bytes cannot be encoded.
    return text.replace("\x00", "").encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _raw_header(message, name):
    name = name.lower()
    return next((value for key, value in message.raw_items() if key.lower() == name), None)


def _header(message, name):
    """A header as text, decoded; raw 8-bit headers are read as UTF-8 or else Windows-1252."""
    raw = _raw_header(message, name)
    if raw is None:
        return ""
    if any("\udc80" <= ch <= "\udcff" for ch in raw):
        # Unencoded 8-bit bytes (against the RFC, common in old mailers) arrive as surrogates.
        text = _decode_bytes(raw.encode("utf-8", "surrogateescape"), "utf-8")
    else:
        try:
            text = str(message.get(name))
        except (IndexError, ValueError, TypeError, AttributeError, email_errors.HeaderParseError):
            # policy.default's structured parsers choke on some real-world headers; decode by hand.
            text = _decoded_words(raw)
    return _clean(" ".join(text.split()))


def _decoded_words(raw):
    """A header's encoded words decoded; the raw text when their charset is unknown or refuses them."""
    try:
        return str(make_header(decode_header(raw)))
    except (ValueError, LookupError, email_errors.HeaderParseError):  # UnicodeError is a ValueError
        return raw


def _message_id(message, raw):
    # Message-IDs are ASCII tokens without encoded words: the raw value is the value.
    message_id = _clean(" ".join((_raw_header(message, "Message-ID") or "").split()))
    if not message_id or len(message_id) > MESSAGE_ID_MAX_LENGTH:
        # Without a usable Message-ID the bytes themselves identify the message across imports.
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    return message_id


def _date(message):
    value = _raw_header(message, "Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
        # In UTC, as it is stored: 31 Dec 9999 23:59 -0100 is a valid date whose UTC time is not.
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _split_parts(message):
    """(plain body part, HTML body part, [(part, content type, disposition)] of the files).

    One pass, reading each part's headers once: with policy.default every header access parses
    the header again, and that dominated ingestion time.
    """
    plain = html_part = None
    files = []
    for part, content_type, disposition in _leaf_parts(message):
        # Some mailers mark the body "inline"; an inline text part with a file name is a file.
        is_body_text = content_type in ("text/plain", "text/html") and (
            disposition is None or (disposition == "inline" and not _filename(part))
        )
        if is_body_text and content_type == "text/plain" and plain is None:
            plain = part
        elif is_body_text and content_type == "text/html" and html_part is None:
            html_part = part
        elif content_type.startswith("text/") and disposition != "attachment" and not _filename(part):
            continue  # alternative bodies and stray text parts, not files
        else:
            files.append((part, content_type, disposition))
    return plain, html_part, files


def _text_of(part):
    payload = part.get_payload(decode=True) or b""
    text = _decode_bytes(payload, part.get_content_charset() or "utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_bytes(data, charset):
    charset = charset.lower().strip()
    if charset in {"us-ascii", "ascii"}:
        candidates = ["utf-8", "windows-1252"]  # "ascii" labels on 8-bit text are common
    elif charset in _WINDOWS_1252_ALIASES:
        candidates = ["windows-1252"]
    else:
        candidates = [charset, "utf-8", "windows-1252"]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (ValueError, LookupError):
            # Unknown labels, codecs that are not text encodings, and ones that refuse bytes with a plain
            # UnicodeError ("undefined", "punycode") or a ValueError (a NUL in the label).
            continue
    # Windows-1252 leaves five bytes undefined; ISO-8859-1 decodes everything, so nothing is lost.
    return data.decode("iso-8859-1")


def _attachment(part, content_type, disposition):
    if content_type == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) else inner
        data = inner.as_bytes() if hasattr(inner, "as_bytes") else bytes(str(inner), "utf-8")
    else:
        data = part.get_payload(decode=True) or b""
    content_type = sniff_content_type(content_type, data)
    return ParsedAttachment(
        name=sanitise_filename(_filename(part), content_type),
        content_type=content_type,
        data=data,
        is_inline=disposition == "inline" or (disposition is None and "Content-ID" in part),
    )


def _filename(part):
    """The part's file name, decoded; an RFC 2231 name in a charset Python refuses is decoded forgivingly."""
    try:
        return part.get_filename() or ""
    except (ValueError, LookupError):  # e.g. filename*=undefined''... or punycode''...: a plain UnicodeError
        raw = part.get_param("filename", header="content-disposition") or part.get_param("name") or ""
        if isinstance(raw, tuple):  # (charset, language, %-encoded value)
            return _decode_bytes(unquote_to_bytes(raw[2]), raw[0] or "utf-8")
        return str(raw)


def _leaf_parts(part):
    """(part, content type, disposition) of every leaf; a forwarded e-mail is kept whole, as a file."""
    content_type = part.get_content_type()
    if content_type == "message/rfc822" or not part.is_multipart():
        yield part, content_type, part.get_content_disposition()
    else:
        for sub in part.iter_parts():
            yield from _leaf_parts(sub)


def sniff_content_type(declared, data):
    """The content type the bytes really have when recognisable, else the declared one."""
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return declared


def sanitise_filename(name, content_type="application/octet-stream"):
    """A safe, short file name: no directories, no control characters, never a leading dot.

    Also on disk: Django's storage keeps only [-\\w.] of a name, so a name whose first kept
    character would be a dot ("(.pdf") or that keeps nothing ("()") is replaced.
    """
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[^\w .()+,-]", "_", name)
    name = re.sub(r"[ _]{2,}", "_", name).strip(" .")
    if len(name) > 150:
        stem, dot, suffix = name.rpartition(".")
        suffix = suffix[:10]
        name = (stem[: 140 - len(suffix)] + dot + suffix if dot else name[:150]).strip(" .")
    kept_on_disk = re.sub(r"[^-\w. ]", "", name)
    if not kept_on_disk or kept_on_disk.startswith("."):
        extension = name.rpartition(".")[2] if "." in name else ""
        if not re.fullmatch(r"\w{1,10}", extension):
            extension = (mimetypes.guess_extension(content_type) or ".bin").lstrip(".")
        name = f"attachment.{extension}"
    return name


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"}
    _SKIP = {"script", "style", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCK:
            self.chunks.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCK:
            self.chunks.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.chunks.append(data)


def html_to_text(markup):
    """Readable text from an HTML body: tags, scripts and styles removed, blocks on their own lines."""
    if not markup:
        return ""
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    text = "".join(extractor.chunks).replace("\u00a0", " ")
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
