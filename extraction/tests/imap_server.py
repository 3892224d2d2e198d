"""A real IMAP server for tests and benchmarks: Debian's Dovecot with a throw-away configuration.

`TestCertificates` makes a test CA and a server certificate for 127.0.0.1 (openssl); `DovecotServer`
runs its own Dovecot master on 127.0.0.1 on a free port, IMAP over TLS only, one user with a Maildir,
everything in a temp directory that is removed afterwards. The product talks to it exactly as to a
real server: TLS verified against the test CA, LOGIN, SELECT, UID SEARCH/FETCH/MOVE.
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from imapclient import IMAPClient

USER = "kanzlei@schuldnerberatung.example"
# Characters that must be URL-encoded in IMAP_URL (@ / % &), so parsing the URL is tested too.
PASSWORD = "Tr0ub4dor&3/@x%Zq"
SBIN = ("/usr/sbin", "/usr/bin")


def _program(name):
    found = shutil.which(name) or next((f"{d}/{name}" for d in SBIN if os.path.exists(f"{d}/{name}")), None)
    if found is None:
        raise RuntimeError(
            f"{name} is not installed: the IMAP tests run a real Dovecot. Install it with "
            "'apt-get install -y dovecot-imapd' (bin/test does this when it runs as root)."
        )
    return found


def _run(*args):
    # Output to a file, not a pipe: a daemonizing program's children would hold a pipe open.
    with tempfile.TemporaryFile() as output:
        finished = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=output, stderr=output, timeout=60)
        if finished.returncode:
            output.seek(0)
            raise RuntimeError(f"{' '.join(map(str, args))} failed: {output.read().decode(errors='replace')}")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TestCertificates:
    """A test CA (ca.pem) and a certificate it signed for IP 127.0.0.1 (server.pem, server.key)."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory):
        self.directory = Path(directory)
        self.ca = self.directory / "ca.pem"
        self.cert = self.directory / "server.pem"
        self.key = self.directory / "server.key"
        openssl = _program("openssl")
        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
        ca_key = self.directory / "ca.key"
        _run(openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", self.ca, "-days", "2",
             "-subj", "/CN=Creditor mail test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        request = self.directory / "server.csr"
        _run(openssl, "req", *ec, "-keyout", self.key, "-out", request, "-subj", "/CN=127.0.0.1")
        extensions = self.directory / "server.ext"
        extensions.write_text(
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        )
        _run(openssl, "x509", "-req", "-in", request, "-CA", self.ca, "-CAkey", ca_key, "-CAcreateserial",
             "-out", self.cert, "-days", "2", "-extfile", extensions)
        os.chmod(self.key, 0o644)  # Dovecot's config parser reads it as root; the directory is private

    def client_context(self):
        return ssl.create_default_context(cafile=str(self.ca))


class DovecotServer:
    """One Dovecot master on 127.0.0.1 with one user; `capabilities` replaces what it announces."""

    def __init__(self, certificates, *, capabilities=None):
        self.certificates = certificates
        self.directory = Path(tempfile.mkdtemp(prefix="dovecot-"))
        # Dovecot's own processes run as its users: they must be able to walk into the directory.
        os.chmod(self.directory, 0o755)
        self.port = _free_port()
        self.config = self.directory / "dovecot.conf"
        self.log = self.directory / "dovecot.log"
        self.process = None
        self._write_config(capabilities)

    def _write_config(self, capabilities):
        if os.geteuid() == 0:
            account = pwd.getpwnam("dovecot")
            login_user, internal_user = "dovenull", "dovecot"
        else:  # an unprivileged developer: everything runs as that user
            account = pwd.getpwuid(os.geteuid())
            login_user = internal_user = account.pw_name
        home = self.directory / "home"
        home.mkdir()
        os.chown(home, account.pw_uid, account.pw_gid)
        (self.directory / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{account.pw_uid}:{account.pw_gid}::{home}\n"
        )
        capability_line = f"imap_capability = {capabilities}\n" if capabilities is not None else ""
        self.config.write_text(f"""
base_dir = {self.directory}/run
state_dir = {self.directory}/state
log_path = {self.log}
protocols = imap
shutdown_clients = yes
auth_failure_delay = 0
# A throw-away server: no fsync per message (the disk here is slow and shared).
mail_fsync = never
listen = 127.0.0.1
ssl = required
ssl_cert = <{self.certificates.cert}
ssl_key = <{self.certificates.key}
default_login_user = {login_user}
default_internal_user = {internal_user}
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.directory}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.directory}/passwd
}}
mail_location = maildir:~/Maildir
first_valid_uid = {account.pw_uid}
first_valid_gid = {account.pw_gid}
namespace inbox {{
  inbox = yes
  separator = /
}}
{capability_line}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
""")

    # Lifecycle ---------------------------------------------------------------------------------

    def start(self):
        """Run the master in the foreground as our child: we reap it, so a stop is over when it returns."""
        with open(self.directory / "master.out", "ab") as output:
            self.process = subprocess.Popen(
                [_program("dovecot"), "-F", "-c", self.config], stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                start_new_session=True,  # its own process group, so a stop reaches every process it started
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"Dovecot did not start; its log:\n{self._log_text()}")

    def stop(self):
        """Stop the master and every process it started: open connections are cut.

        Like a service manager stopping the unit's whole process group: Dovecot's master alone leaves
        the processes of open TLS sessions running.
        """
        if self.process is None:
            return
        self._signal_all(signal.SIGTERM)
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            # A child still starting up can hold the master's shutdown for seconds: kill them all.
            self._signal_all(signal.SIGKILL)
            self.process.wait(timeout=15)
        self.process = None

    def _signal_all(self, sig):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def restart(self):
        self.stop()
        return self.start()

    def close(self):
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _log_text(self):
        return "".join(p.read_text(errors="replace") for p in (self.log, self.directory / "master.out") if p.exists())

    # What a person or another program does to the mailbox --------------------------------------

    def url(self, folder="INBOX", *, password=PASSWORD):
        return f"imaps://{quote(USER, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{quote(folder)}"

    def client(self):
        client = IMAPClient("127.0.0.1", port=self.port, ssl_context=self.certificates.client_context(), timeout=30)
        client.login(USER, PASSWORD)
        return client

    def append(self, messages, folder="INBOX"):
        """Deliver raw messages (bytes) into a folder, in order."""
        messages = list(messages)
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for start in range(0, len(messages), 100):
                client.multiappend(folder, messages[start:start + 100])

    def uids(self, folder="INBOX"):
        with self.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(client.search("ALL"))

    def messages(self, folder="INBOX"):
        """{uid: (raw bytes, flags)} of a folder."""
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            fetched = client.fetch(client.search("ALL"), ["BODY.PEEK[]", "FLAGS"])
        return {uid: (data[b"BODY[]"], data[b"FLAGS"]) for uid, data in fetched.items()}

    def delete(self, uids, folder="INBOX"):
        with self.client() as client:
            client.select_folder(folder)
            client.delete_messages(uids)
            client.expunge()

    def uid_validity(self, folder="INBOX"):
        with self.client() as client:
            return client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]

    def change_uid_validity(self, value, folder="INBOX"):
        """What a restored backup or a migrated server does: the folder's UIDs start over."""
        _run(_program("doveadm"), "-c", self.config, "mailbox", "update", "-u", USER,
             "--uid-validity", str(value), folder)

    def kick(self):
        """Drop every open IMAP connection of the user (the server side hangs up)."""
        _run(_program("doveadm"), "-c", self.config, "kick", USER)

