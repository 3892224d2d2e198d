"""The practice's IMAP server: where IMAP_URL points, and a verified TLS connection to it.

One integration module (like extraction.llm), on IMAPClient: the mailbox parsed from IMAP_URL,
the TLS context (certificate and host name always verified; IMAP_CA_FILE for a private CA), the
login, and every failure put into words an operator can act on. The password is only ever handed
to the server's LOGIN: it is not part of the mailbox's name, of any message or of any stored error.
The fetch itself is in extraction.intake.
"""

import contextlib
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError


@dataclass(frozen=True)
class Mailbox:
    """Where to fetch from, parsed from IMAP_URL; str() and `key` never contain the password."""

    host: str
    port: int
    user: str
    folder: str
    password: str = field(repr=False)

    @property
    def key(self):
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"

    def __str__(self):
        return f"imaps://{self.key}"


def parse_url(url):
    """A Mailbox from `imaps://user:password@host[:993]/FOLDER`; ImproperlyConfigured (no password) if unusable."""
    try:
        parts = urlsplit(url)
        port = parts.port or 993
    except ValueError as exc:
        raise ImproperlyConfigured(f"IMAP_URL is not a URL ({_masked(url)}): {exc}") from None
    if parts.scheme != "imaps":
        raise ImproperlyConfigured(
            f"IMAP_URL must start with imaps:// (IMAP over TLS, usually port 993), not {parts.scheme or 'nothing'}://"
            f" ({_masked(url)})."
        )
    if not parts.hostname or not parts.username or parts.password is None:
        raise ImproperlyConfigured(
            f"IMAP_URL needs a user, a password and a host: imaps://user:password@host:993/INBOX ({_masked(url)})."
        )
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return Mailbox(
        host=parts.hostname, port=port, user=unquote(parts.username), folder=folder, password=unquote(parts.password)
    )


def _masked(url):
    scheme, _, rest = url.rpartition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}" if scheme else f"{userinfo.split(':', 1)[0]}:***@{host}"


def tls_context():
    """Certificate and host name verified; against IMAP_CA_FILE when set, else the system's CAs."""
    ca_file = settings.IMAP_CA_FILE or None
    if ca_file and not Path(ca_file).is_file():
        raise ImproperlyConfigured(f"IMAP_CA_FILE {ca_file!r} is not a readable file.")
    return ssl.create_default_context(cafile=ca_file)


class FetchFailed(Exception):
    """A fetch stopped; the message says why, in words for an operator (never the password)."""


def connect(mailbox):
    """A logged-in IMAPClient; FetchFailed with the reason when the server cannot be reached or refuses."""
    timeout = settings.IMAP_TIMEOUT_SECONDS
    try:
        client = IMAPClient(mailbox.host, port=mailbox.port, ssl_context=tls_context(), timeout=timeout)
    except Exception as exc:
        raise FetchFailed(describe(exc, mailbox, "connecting")) from None
    try:
        client.login(mailbox.user, mailbox.password)
    except LoginError as exc:
        close(client)
        raise FetchFailed(
            f"the server refused the login of {mailbox.user} (wrong user name or password?): "
            f"{scrubbed(str(exc), mailbox)}"
        ) from None
    except Exception as exc:
        close(client)
        raise FetchFailed(describe(exc, mailbox, "logging in")) from None
    return client


def close(client):
    """Log out, or at least drop the socket; never raises (the connection may already be gone)."""
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()


def describe(exc, mailbox, doing):
    """Why talking to the server failed, in words for an operator, prefixed with what was being done."""
    where = f"{mailbox.host}:{mailbox.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = (
            f"the TLS certificate of {where} could not be verified ({exc.verify_message}); "
            "for a private CA set IMAP_CA_FILE"
        )
    elif isinstance(exc, ConnectionRefusedError):
        reason = f"{where} refused the connection (is the IMAP server down, or the port wrong?)"
    elif isinstance(exc, socket.gaierror):
        reason = f"the host name {mailbox.host} cannot be resolved ({exc.strerror})"
    elif isinstance(exc, TimeoutError):
        reason = f"{where} did not answer within {settings.IMAP_TIMEOUT_SECONDS:g} s"
    elif isinstance(exc, (ssl.SSLError, ConnectionError, EOFError)) or "socket error" in str(exc) or (
        isinstance(exc, IMAPClientError) and "shutting down" in str(exc).lower()
    ):
        reason = f"the connection to {where} was lost ({type(exc).__name__}: {exc})"
    elif isinstance(exc, IMAPClientError):
        reason = f"the server answered with an error ({exc})"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return scrubbed(f"{doing}: {reason}", mailbox)


def scrubbed(text, mailbox):
    """`text` with the password masked: no server or library message may carry it into a log or the admin."""
    return text.replace(mailbox.password, "***") if mailbox.password else text
