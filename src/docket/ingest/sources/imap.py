"""Mailboxes over IMAP: each message of the chosen folders becomes a document (attachments included).

- **Keys** are ``FOLDER/UIDVALIDITY/UID``: a message keeps its key for as long as the server keeps
  its UID. A folder whose UIDVALIDITY changed (the server renumbered it) is listed afresh: its old
  keys vanish from the listing and its messages are fetched again under the new ones.
- **Versions** are the UID, plus a digest of the message's flags when it has any that are kept as
  metadata (``\\Flagged``, ``\\Answered``, keywords...). ``\\Seen`` and ``\\Recent`` are ignored, so
  reading mail in a mail client does not re-index it.
- **Listing.** ``UID SEARCH ALL`` and one ``UID FETCH 1:* (FLAGS)`` per folder list every message,
  so the listing is complete and expunged messages are removed from the index by the sync engine.
  Only new or re-flagged messages are downloaded, with ``BODY.PEEK[]`` (never marks mail as read)
  in batches, over a mailbox opened read-only (``EXAMINE``).
- **Security.** TLS (``ssl``, port 993) or ``starttls`` (port 143) with certificate and host name
  verification by default; ``insecure`` turns verification off (self-signed test servers only);
  ``plain`` sends the password unencrypted and is meant for servers on the same machine.
- **Password** from the environment variable named by ``password_env`` or from the file
  ``password_file``; it is read when a sync starts and is never stored, logged or printed.
- **Failures.** Unreachable host, TLS error, refused login or a missing folder raise
  :class:`~docket.errors.SourceError` with the reason; a message the server cannot deliver or
  whose headers cannot be read goes in ``Listing.failed`` (filled while ``items`` is consumed).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import imaplib
import os
import re
import ssl
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from docket.errors import ConfigError, SourceError
from docket.ingest.sources import CONNECTORS
from docket.ingest.sources.base import Fetched, Listing

__all__ = ["SECURITY_MODES", "ImapConnector", "imap_connector"]

SECURITY_MODES = ("ssl", "starttls", "plain")
IGNORED_FLAGS = frozenset({"\\seen", "\\recent"})
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)", re.IGNORECASE)


@dataclass
class _Folder:
    name: str
    uidvalidity: int
    versions: dict[int, str] = field(default_factory=dict)  # uid -> version
    flags: dict[int, list[str]] = field(default_factory=dict)


class ImapConnector:
    """Lists and fetches the messages of one IMAP account's folders."""

    type = "imap"

    def __init__(
        self,
        *,
        host: str,
        user: str,
        password_env: str | None = None,
        password_file: str | None = None,
        port: int | None = None,
        folders: Sequence[str] = ("INBOX",),
        security: str = "ssl",
        insecure: bool = False,
        batch_size: int = 50,
        timeout_s: float = 30.0,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ConfigError(f"imap: security must be one of {', '.join(SECURITY_MODES)}, not '{security}'")
        if not password_env and not password_file:
            raise ConfigError("imap: no password source; give --password-env VAR or --password-file PATH")
        self.host = host
        self.user = user
        self.password_env = password_env
        self.password_file = password_file
        self.security = security
        self.port = port or (993 if security == "ssl" else 143)
        self.folders = list(dict.fromkeys(folders)) or ["INBOX"]
        self.insecure = insecure
        self.batch_size = max(1, batch_size)
        self.timeout_s = timeout_s

    # ------------------------------------------------------------------ connection

    def _password(self) -> str:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if not value:
                raise SourceError(
                    f"imap {self.user}@{self.host}: the environment variable {self.password_env} holding the "
                    "password is not set; export it before syncing"
                )
            return value
        assert self.password_file is not None
        try:
            return Path(self.password_file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SourceError(
                f"imap {self.user}@{self.host}: cannot read the password file {self.password_file}: {exc.strerror}"
            ) from exc

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def connect(self) -> imaplib.IMAP4:
        """An open, logged-in connection; :class:`SourceError` with the reason if that fails."""
        where = f"{self.host}:{self.port}"
        password = self._password()
        try:
            if self.security == "ssl":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    self.host, self.port, ssl_context=self._tls_context(), timeout=self.timeout_s
                )
            else:
                conn = imaplib.IMAP4(self.host, self.port, timeout=self.timeout_s)
                if self.security == "starttls":
                    conn.starttls(ssl_context=self._tls_context())
        except ssl.SSLCertVerificationError as exc:
            raise SourceError(
                f"imap {where}: TLS certificate not trusted ({exc.verify_message}); for a self-signed test "
                "server only, add --insecure"
            ) from exc
        except ssl.SSLError as exc:
            raise SourceError(f"imap {where}: TLS error ({exc.reason or exc}); check --ssl/--starttls/--port") from exc
        except imaplib.IMAP4.error as exc:
            raise SourceError(f"imap {where}: the server refused the connection: {_text(exc)}") from exc
        except TimeoutError as exc:
            raise SourceError(f"imap {where}: no answer within {self.timeout_s:g} s") from exc
        except OSError as exc:
            raise SourceError(f"imap {where}: cannot connect ({exc.strerror or exc})") from exc
        try:
            conn.login(self.user, password)
        except imaplib.IMAP4.error as exc:
            _close(conn)
            raise SourceError(f"imap {where}: login refused for user {self.user}: {_text(exc)}") from exc
        except OSError as exc:
            raise SourceError(f"imap {where}: connection lost during login ({exc})") from exc
        return conn

    # ------------------------------------------------------------------ listing

    def fetch(self, known: Mapping[str, str], checkpoint: Mapping[str, Any]) -> Listing:
        conn = self.connect()
        try:
            folders = [self._list_folder(conn, name) for name in self.folders]
        except BaseException:
            _close(conn)
            raise
        unchanged: set[str] = set()
        wanted: list[tuple[_Folder, list[int]]] = []
        new_checkpoint: dict[str, Any] = {"folders": {}}
        previous = checkpoint.get("folders", {}) if isinstance(checkpoint.get("folders"), dict) else {}
        for folder in folders:
            before = previous.get(folder.name, {})
            # a renumbered folder (new UIDVALIDITY) has new keys: all its messages are fetched again
            last_uid = int(before.get("last_uid", 0)) if before.get("uidvalidity") == folder.uidvalidity else 0
            fetch_uids = []
            for uid, version in folder.versions.items():
                key = self._key(folder, uid)
                if uid <= last_uid and known.get(key) == version:
                    unchanged.add(key)
                else:  # new since the last sync, re-flagged, or not indexed yet (an earlier failure)
                    fetch_uids.append(uid)
            wanted.append((folder, sorted(fetch_uids)))
            new_checkpoint["folders"][folder.name] = {
                "uidvalidity": folder.uidvalidity,
                "last_uid": max(folder.versions, default=last_uid),
            }
        listing = Listing(items=iter(()), unchanged=unchanged, checkpoint=new_checkpoint)
        listing.items = self._download(conn, wanted, listing)
        return listing

    def _list_folder(self, conn: imaplib.IMAP4, name: str) -> _Folder:
        typ, data = _call(self, conn.select, _quote(name), True)
        if typ != "OK":
            raise SourceError(
                f"imap {self.host}: folder '{name}' cannot be opened ({_text(data)}); check --folder "
                "(folder names are case-sensitive, sub-folders are written with the server's separator)"
            )
        _, validity = conn.response("UIDVALIDITY")
        if not validity or validity[0] is None:
            raise SourceError(f"imap {self.host}: the server gave no UIDVALIDITY for folder '{name}'")
        folder = _Folder(name, int(validity[0]))
        typ, data = _call(self, conn.uid, "SEARCH", "ALL")
        if typ != "OK":
            raise SourceError(f"imap {self.host}: cannot list folder '{name}': {_text(data)}")
        uids = [int(u) for u in b" ".join(d for d in data if isinstance(d, bytes)).split()]
        for uid in uids:
            folder.versions[uid] = str(uid)
            folder.flags[uid] = []
        if uids:
            typ, data = _call(self, conn.uid, "FETCH", "1:*", "(FLAGS)")
            if typ != "OK":
                raise SourceError(f"imap {self.host}: cannot read the flags of folder '{name}': {_text(data)}")
            for line in data:
                head = line[0] if isinstance(line, tuple) else line
                if not isinstance(head, bytes):
                    continue
                uid_match, flags_match = _UID.search(head), _FLAGS.search(head)
                if uid_match is None or flags_match is None or int(uid_match.group(1)) not in folder.versions:
                    continue
                uid = int(uid_match.group(1))
                flags = sorted(
                    f for f in flags_match.group(1).decode("ascii", "replace").split() if f.lower() not in IGNORED_FLAGS
                )
                folder.flags[uid] = flags
                folder.versions[uid] = _version(uid, flags)
        return folder

    # ------------------------------------------------------------------ fetching

    def _download(
        self, conn: imaplib.IMAP4, wanted: list[tuple[_Folder, list[int]]], listing: Listing
    ) -> Iterator[Fetched]:
        try:
            for folder, uids in wanted:
                if not uids:
                    continue
                typ, data = _call(self, conn.select, _quote(folder.name), True)
                if typ != "OK":
                    raise SourceError(f"imap {self.host}: folder '{folder.name}' disappeared during the sync")
                for start in range(0, len(uids), self.batch_size):
                    batch = uids[start : start + self.batch_size]
                    typ, data = _call(
                        self, conn.uid, "FETCH", ",".join(map(str, batch)), "(UID INTERNALDATE BODY.PEEK[])"
                    )
                    if typ != "OK":
                        raise SourceError(f"imap {self.host}: fetching from '{folder.name}' failed: {_text(data)}")
                    bodies = dict(_bodies(data))
                    for uid in batch:
                        key = self._key(folder, uid)
                        body = bodies.get(uid)
                        if body is None:
                            listing.failed[key] = "the server returned no content for this message"
                            continue
                        try:
                            yield self._message(folder, uid, body)
                        except _Malformed as exc:
                            listing.failed[key] = str(exc)
        finally:
            _close(conn)

    def _message(self, folder: _Folder, uid: int, body: bytes) -> Fetched:
        if not body.strip():
            raise _Malformed("empty message")
        try:
            headers = BytesHeaderParser(policy=default_policy).parsebytes(body)
            subject = str(headers.get("subject", "") or "").strip()
            sender = _sender(headers.get("from"))
            date_header = headers.get("date")
        except Exception as exc:  # the email package raises many kinds on broken headers
            raise _Malformed(f"malformed message headers: {exc}") from exc
        mtime: float | None = None
        date = ""
        if date_header:
            try:
                when = parsedate_to_datetime(str(date_header))
                mtime, date = when.timestamp(), when.isoformat()
            except (TypeError, ValueError, IndexError):
                date = str(date_header)
        return Fetched(
            key=self._key(folder, uid),
            title=subject or "(no subject)",
            data=body,
            filetype="eml",
            version=folder.versions[uid],
            url=self._url(folder, uid),
            mtime=mtime,
            metadata={"from": sender, "date": date, "folder": folder.name, "flags": folder.flags.get(uid, [])},
        )

    # ------------------------------------------------------------------ names

    def _key(self, folder: _Folder, uid: int) -> str:
        return f"{folder.name}/{folder.uidvalidity}/{uid}"

    def _url(self, folder: _Folder, uid: int) -> str:
        """An RFC 5092 IMAP URL of the message (no password), shown in citations."""
        port = "" if self.port in (143, 993) else f":{self.port}"
        user = quote(self.user, safe="")
        return f"imap://{user}@{self.host}{port}/{quote(folder.name)};UIDVALIDITY={folder.uidvalidity}/;UID={uid}"


@CONNECTORS.register("imap")
def imap_connector(
    host: str,
    user: str,
    password_env: str | None = None,
    password_file: str | None = None,
    port: int | None = None,
    folders: Sequence[str] = ("INBOX",),
    security: str = "ssl",
    insecure: bool = False,
    batch_size: int = 50,
    timeout_s: float = 30.0,
) -> ImapConnector:
    """The ``imap`` connector, built from the settings ``docket sources add imap`` stored."""
    return ImapConnector(
        host=host,
        user=user,
        password_env=password_env,
        password_file=password_file,
        port=port,
        folders=folders,
        security=security,
        insecure=insecure,
        batch_size=batch_size,
        timeout_s=timeout_s,
    )


class _Malformed(Exception):
    pass


def _call(connector: ImapConnector, method: Any, *args: Any) -> tuple[str, list[Any]]:
    """One IMAP command; a protocol or connection failure becomes :class:`SourceError`."""
    try:
        typ, data = method(*args)
    except imaplib.IMAP4.abort as exc:
        raise SourceError(f"imap {connector.host}: the server closed the connection: {_text(exc)}") from exc
    except imaplib.IMAP4.error as exc:
        return "NO", [str(exc).encode()]
    except OSError as exc:
        raise SourceError(f"imap {connector.host}: connection lost ({exc})") from exc
    return typ, list(data)


def _bodies(data: Iterable[Any]) -> Iterator[tuple[int, bytes]]:
    for item in data:
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            match = _UID.search(item[0])
            if match is not None:
                yield int(match.group(1)), item[1]


def _version(uid: int, flags: Sequence[str]) -> str:
    if not flags:
        return str(uid)
    digest = hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:12]
    return f"{uid}:{digest}"


def _sender(value: Any) -> str:
    addresses: tuple[Address, ...] = getattr(value, "addresses", ())
    if addresses:
        return ", ".join(str(a) for a in addresses)
    return str(value or "")


def _text(value: Any) -> str:
    if isinstance(value, BaseException):
        value = value.args[0] if value.args else str(value)
    if isinstance(value, list):
        value = b" ".join(v for v in value if isinstance(v, bytes))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip() or "no reason given"


def _quote(folder: str) -> str:
    """A folder name as an IMAP quoted string, non-ASCII in modified UTF-7 (RFC 3501 §5.1.3)."""
    encoded = _utf7(folder)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _utf7(text: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in text:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _close(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        conn.logout()
