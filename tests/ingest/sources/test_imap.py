"""The IMAP connector against a real Dovecot on 127.0.0.1 (Debian's dovecot-imapd).

The fixture installs nothing: it starts the system's ``dovecot`` as root with a throw-away config
(a passwd-file of users, maildirs in a temporary folder, plain IMAP with STARTTLS and IMAPS with a
self-signed certificate made here), and skips with the install command when Dovecot is missing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from docket.config import load_settings
from docket.errors import ConfigError, SourceError
from docket.ingest.sources.imap import ImapConnector, _utf7
from docket.ingest.sources.sync import add_remote_source
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder

INSTALL = "apt-get install -y dovecot-imapd"
USERS = 40
PASSWORD = "s3cret-pw"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class Dovecot:
    root: Path
    port: int  # plain IMAP, STARTTLS offered
    ssl_port: int  # IMAPS
    users: Iterator[str]

    def client(self, user: str) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(user, PASSWORD)
        return conn


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if binary is None:
        pytest.skip(f"Dovecot is not installed; install it with: {INSTALL}")
    if os.geteuid() != 0:
        pytest.skip("starting Dovecot for the IMAP tests needs root")
    root = Path(tempfile.mkdtemp(prefix="docket-dovecot-"))
    root.chmod(0o755)  # the mail and auth processes run as the dovecot user
    try:
        (root / "run").mkdir()
        (root / "state").mkdir()
        (root / "mail").mkdir()
        shutil.chown(root / "mail", "dovecot", "dovecot")
        cert, key = _self_signed(root)
        key.chmod(0o600)
        (root / "users").write_text("".join(f"user{i}:{{PLAIN}}{PASSWORD}\n" for i in range(USERS)))
        port, ssl_port = _free_port(), _free_port()
        config = root / "dovecot.conf"
        config.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
"""
        )
        # Dovecot forks into the background; its children keep stdout open, so output goes to the log
        subprocess.run(
            [binary, "-c", str(config)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30
        )
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        else:
            pytest.fail("Dovecot did not start: " + (root / "dovecot.log").read_text(errors="replace"))
        yield Dovecot(root, port, ssl_port, (f"user{i}" for i in itertools.count()))
    finally:
        pid_file = root / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, imaplib.IMAP4]]:
    """A fresh user (empty INBOX) and a client logged in as that user; the password is in $MAIL_PW."""
    user = next(dovecot.users)
    monkeypatch.setenv("MAIL_PW", PASSWORD)
    conn = dovecot.client(user)
    yield user, conn
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        conn.logout()


def _connector(dovecot: Dovecot, user: str, **options: object) -> ImapConnector:
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": dovecot.port,
        "user": user,
        "password_env": "MAIL_PW",
        "security": "plain",
        **options,
    }
    return ImapConnector(**settings)  # type: ignore[arg-type]


def _message(subject: str, body: str, *, attachments: Sequence[tuple[str, bytes, str]] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Customer <customer@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 03 Nov 2026 10:00:00 +0000"
    msg.set_content(body)
    for filename, data, mime in attachments:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def _pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def _deliver(conn: imaplib.IMAP4, data: bytes, folder: str = "INBOX", flags: str | None = None) -> int:
    typ, resp = conn.append(folder, flags, None, data)
    assert typ == "OK", resp
    return int(resp[0].split(b"]")[0].split()[-1])  # [APPENDUID validity uid]


def _flags(conn: imaplib.IMAP4, folder: str = "INBOX") -> dict[int, bytes]:
    conn.select(folder, readonly=True)
    _, data = conn.uid("FETCH", "1:*", "(FLAGS)")
    out = {}
    for line in data:
        if isinstance(line, bytes):
            uid = int(line.split(b"UID ")[1].split()[0].rstrip(b")"))
            out[uid] = line.split(b"FLAGS (")[1].split(b")")[0]
    return out


def _collect(listing) -> list:  # type: ignore[no-untyped-def]
    return list(listing.items)


# ---------------------------------------------------------------------- the connector on its own


def test_fetch_lists_every_message_with_metadata_and_never_marks_it_read(dovecot, mailbox) -> None:
    user, conn = mailbox
    invoice = _message(
        "Invoice 1042 is wrong",
        "The total on invoice 1042 should be 310 EUR.",
        attachments=[("invoice.pdf", _pdf("Invoice 1042 total 310 EUR"), "application/pdf")],
    )
    orders = _message(
        "Order list", "See the attached orders.", attachments=[("orders.csv", b"id,qty\n1,4\n2,7\n", "text/csv")]
    )
    first, second = _deliver(conn, invoice), _deliver(conn, orders)

    listing = _connector(dovecot, user).fetch({}, {})
    items = _collect(listing)

    assert listing.complete and not listing.failed and not listing.unchanged
    assert [i.title for i in items] == ["Invoice 1042 is wrong", "Order list"]
    validity = listing.checkpoint["folders"]["INBOX"]["uidvalidity"]
    assert [i.key for i in items] == [f"INBOX/{validity}/{first}", f"INBOX/{validity}/{second}"]
    assert items[0].filetype == "eml" and items[0].data == invoice.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
    assert items[0].version == str(first)
    assert items[0].metadata == {
        "from": "Customer <customer@example.com>",
        "date": "2026-11-03T10:00:00+00:00",
        "folder": "INBOX",
        "flags": [],
    }
    assert items[0].url is not None and items[0].url.endswith(f";UID={first}") and PASSWORD not in items[0].url
    assert listing.checkpoint["folders"]["INBOX"]["last_uid"] == second
    assert all(b"\\Seen" not in flags for flags in _flags(conn).values())


def test_unchanged_messages_are_not_downloaded_again(dovecot, mailbox) -> None:
    user, conn = mailbox
    _deliver(conn, _message("one", "first"))
    _deliver(conn, _message("two", "second"))
    connector = _connector(dovecot, user)
    first = connector.fetch({}, {})
    known = {item.key: item.version for item in first.items}

    again = connector.fetch(known, first.checkpoint)

    assert _collect(again) == [] and again.unchanged == set(known) and again.complete


def test_flag_change_refetches_and_seen_is_ignored(dovecot, mailbox) -> None:
    user, conn = mailbox
    a, b = _deliver(conn, _message("a", "alpha")), _deliver(conn, _message("b", "beta"))
    connector = _connector(dovecot, user)
    first = connector.fetch({}, {})
    known = {item.key: item.version for item in first.items}
    conn.select("INBOX")
    conn.uid("STORE", str(a), "+FLAGS", "(\\Flagged)")
    conn.uid("STORE", str(b), "+FLAGS", "(\\Seen)")  # read in a mail client: not a change

    again = connector.fetch(known, first.checkpoint)
    items = _collect(again)

    assert [i.title for i in items] == ["a"]
    assert items[0].metadata["flags"] == ["\\Flagged"] and items[0].version != str(a)
    assert len(again.unchanged) == 1


def test_several_folders_with_their_own_keys(dovecot, mailbox) -> None:
    user, conn = mailbox
    assert conn.create('"' + _utf7("Support Été") + '"')[0] == "OK"
    _deliver(conn, _message("inbox mail", "x"))
    _deliver(conn, _message("support mail", "y"), folder='"' + _utf7("Support Été") + '"')

    listing = _connector(dovecot, user, folders=["INBOX", "Support Été"]).fetch({}, {})
    items = _collect(listing)

    assert {i.metadata["folder"]: i.title for i in items} == {"INBOX": "inbox mail", "Support Été": "support mail"}
    assert any(i.key.startswith("Support Été/") for i in items)


def test_changed_uidvalidity_relists_the_folder(dovecot, mailbox) -> None:
    user, conn = mailbox
    _deliver(conn, _message("one", "x"))
    connector = _connector(dovecot, user)
    first = connector.fetch({}, {})
    known = {item.key: item.version for item in first.items}
    stale = {"folders": {"INBOX": {"uidvalidity": 1, "last_uid": 99}}}
    renumbered = {key.replace(key.split("/")[1], "1", 1): v for key, v in known.items()}

    again = connector.fetch(renumbered, stale)

    assert [i.title for i in again.items] == ["one"] and not again.unchanged


def test_missing_folder_is_a_source_error(dovecot, mailbox) -> None:
    user, _ = mailbox
    with pytest.raises(SourceError, match="folder 'Nope' cannot be opened"):
        _connector(dovecot, user, folders=["INBOX", "Nope"]).fetch({}, {})


def test_wrong_password_is_a_source_error_without_the_password(dovecot, mailbox, monkeypatch) -> None:
    user, _ = mailbox
    monkeypatch.setenv("MAIL_PW", "not-the-password")
    with pytest.raises(SourceError, match=f"login refused for user {user}") as err:
        _connector(dovecot, user).fetch({}, {})
    assert "not-the-password" not in str(err.value)


def test_password_variable_not_set_says_which(dovecot, mailbox, monkeypatch) -> None:
    user, _ = mailbox
    monkeypatch.delenv("MAIL_PW")
    with pytest.raises(SourceError, match="MAIL_PW"):
        _connector(dovecot, user).fetch({}, {})


def test_password_file(dovecot, mailbox, tmp_path) -> None:
    user, conn = mailbox
    _deliver(conn, _message("hello", "x"))
    secret = tmp_path / "imap-password"
    secret.write_text(PASSWORD + "\n")
    listing = _connector(dovecot, user, password_env=None, password_file=str(secret)).fetch({}, {})
    assert [i.title for i in listing.items] == ["hello"]


def test_no_password_source_is_refused() -> None:
    with pytest.raises(ConfigError, match="--password-env"):
        ImapConnector(host="127.0.0.1", user="u")


def test_connection_refused_is_a_source_error() -> None:
    port = _free_port()  # nothing listens there
    os.environ.setdefault("MAIL_PW_UNUSED", "x")
    connector = ImapConnector(host="127.0.0.1", port=port, user="u", password_env="MAIL_PW_UNUSED", security="plain")
    with pytest.raises(SourceError, match=f"127.0.0.1:{port}: cannot connect"):
        connector.fetch({}, {})


def test_self_signed_certificate_is_refused_unless_insecure(dovecot, mailbox) -> None:
    user, conn = mailbox
    _deliver(conn, _message("over tls", "x"))
    tls = {"host": "localhost", "port": dovecot.ssl_port, "security": "ssl"}

    with pytest.raises(SourceError, match=r"certificate not trusted.*--insecure"):
        _connector(dovecot, user, **tls).fetch({}, {})

    assert [i.title for i in _connector(dovecot, user, **tls, insecure=True).fetch({}, {}).items] == ["over tls"]
    starttls = {"host": "localhost", "security": "starttls", "insecure": True}
    assert [i.title for i in _connector(dovecot, user, **starttls).fetch({}, {}).items] == ["over tls"]


def test_tls_to_a_plain_port_is_a_tls_error(dovecot, mailbox) -> None:
    user, _ = mailbox
    with pytest.raises(SourceError, match="TLS"):
        _connector(dovecot, user, security="ssl", insecure=True).fetch({}, {})


def test_message_without_headers_is_still_listed(dovecot, mailbox) -> None:
    user, conn = mailbox
    _deliver(conn, b"this is not a MIME message at all\r\n")
    listing = _connector(dovecot, user).fetch({}, {})
    items = _collect(listing)
    assert [i.title for i in items] == ["(no subject)"] and not listing.failed


# ---------------------------------------------------------------------- through the sync engine


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        yield kb


def test_sync_adds_updates_and_deletes_between_runs(dovecot, mailbox, kb) -> None:
    user, conn = mailbox
    uids = [
        _deliver(
            conn,
            _message(
                "Refund request",
                "Please refund order 77.",
                attachments=[("receipt.pdf", _pdf("Receipt for order 77: 45 EUR"), "application/pdf")],
            ),
        ),
        _deliver(conn, _message("Shipping delay", "Where is parcel 9?")),
        _deliver(
            conn,
            _message("Stock", "Attached.", attachments=[("stock.csv", b"sku,count\nA-1,12\nB-2,0\n", "text/csv")]),
        ),
    ]
    settings = {"host": "127.0.0.1", "port": dovecot.port, "user": user, "password_env": "MAIL_PW", "security": "plain"}
    add_remote_source(kb.store, "support", "imap", settings)

    first = kb.sync(["support"])
    assert (first.added, first.updated, first.deleted, first.failed) == (3, 0, 0, [])
    docs = {d.title: d for d in kb.store.documents("support")}
    assert set(docs) == {"Refund request", "Shipping delay", "Stock"}
    hits = kb.search("Receipt for order 77")
    assert any(h.title == "Refund request" for h in hits)

    conn.select("INBOX")
    conn.uid("STORE", str(uids[0]), "+FLAGS", "(\\Flagged)")
    conn.uid("STORE", str(uids[1]), "+FLAGS", "(\\Deleted)")
    conn.expunge()
    _deliver(conn, _message("New complaint", "The invoice is late."))

    second = kb.sync(["support"])
    # the flagged message has the same content: the engine records its new version without re-indexing
    assert (second.added, second.deleted, second.unchanged, second.failed) == (1, 1, 2, [])
    assert {d.title for d in kb.store.documents("support")} == {"Refund request", "Stock", "New complaint"}
    assert all(b"\\Seen" not in flags for flags in _flags(conn).values())

    third = kb.sync(["support"])
    assert (third.added, third.updated, third.deleted, third.unchanged) == (0, 0, 0, 3)


def test_failed_login_deletes_nothing(dovecot, mailbox, kb, monkeypatch) -> None:
    user, conn = mailbox
    _deliver(conn, _message("keep me", "x"))
    settings = {"host": "127.0.0.1", "port": dovecot.port, "user": user, "password_env": "MAIL_PW", "security": "plain"}
    add_remote_source(kb.store, "support", "imap", settings)
    assert kb.sync(["support"]).added == 1

    monkeypatch.setenv("MAIL_PW", "wrong")
    report = kb.sync(["support"])

    assert report.deleted == 0 and report.failed[0]["path"] == "support"
    assert "login refused" in report.failed[0]["error"] and "wrong" not in report.failed[0]["error"]
    assert [d.title for d in kb.store.documents("support")] == ["keep me"]
    assert (kb.ledger.sources()["support"].last_error or "").startswith("imap 127.0.0.1")
    assert "password" not in str(kb.ledger.sources()["support"].settings).replace("password_env", "")


# ---------------------------------------------------------------------- names


def test_modified_utf7_folder_names() -> None:
    assert _utf7("INBOX") == "INBOX"
    assert _utf7("A&B") == "A&-B"
    assert _utf7("Été") == "&AMk-t&AOk-"


def test_malformed_messages_are_reported_and_the_rest_indexed(dovecot, mailbox, kb) -> None:
    user, conn = mailbox
    _deliver(conn, _message("fine", "A normal message about invoices."))
    broken_attachment = (
        b'Subject: broken attachment\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!!notbase64$$$\r\n--B--\r\n"
    )
    _deliver(conn, broken_attachment)
    _deliver(conn, b"\r\n")  # no headers, no body
    settings = {"host": "127.0.0.1", "port": dovecot.port, "user": user, "password_env": "MAIL_PW", "security": "plain"}
    add_remote_source(kb.store, "support", "imap", settings)

    report = kb.sync(["support"])

    assert report.added == 2 and report.failed[0]["error"] == "empty message" and len(report.failed) == 1
    assert any("a.pdf could not be read" in w["warning"] for w in report.warnings)
    assert {d.title for d in kb.store.documents("support")} == {"fine", "broken attachment"}
    again = kb.sync(["support"])  # the unreadable one is tried again, the others are unchanged
    assert (again.added, again.unchanged, len(again.failed), again.deleted) == (0, 2, 1, 0)


class _FakeConnection:
    """Answers SELECT and UID FETCH like a server that lost one message's content."""

    def select(self, mailbox: str, readonly: bool = False) -> tuple[str, list[bytes]]:
        return "OK", [b"2"]

    def uid(self, command: str, *args: str) -> tuple[str, list[object]]:
        good = _message("ok", "fine")
        return "OK", [(b"1 (UID 7 BODY[] {%d}" % len(good), good), b")", b"2 (UID 8 BODY[] NIL)"]

    def logout(self) -> None:
        pass


def test_message_without_content_goes_in_failed() -> None:
    from docket.ingest.sources.base import Listing
    from docket.ingest.sources.imap import _Folder

    connector = ImapConnector(host="h", user="u", password_env="MAIL_PW")
    folder = _Folder("INBOX", 5, versions={7: "7", 8: "8"})
    listing = Listing(items=iter(()))
    items = list(connector._download(_FakeConnection(), [(folder, [7, 8])], listing))  # type: ignore[arg-type]
    assert [i.key for i in items] == ["INBOX/5/7"]
    assert listing.failed == {"INBOX/5/8": "the server returned no content for this message"}
