"""Email: headers, body choice, attachments parsed recursively, nesting limit, encodings, mbox."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from docket.errors import ParseError
from docket.ingest.parsers import parse_bytes
from tests.ingest.parsers.helpers import block_with, example


def message(subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ann <ann@example.com>"
    msg["To"] = "bob@example.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 01 Oct 2024 12:34:56 -0500"
    msg.set_content(body)
    return msg


def test_email_headers_become_metadata_and_a_first_block() -> None:
    doc = parse_bytes(example("eml/fake-email-header.eml"), "mail.eml")
    assert doc.title == "Test Email"
    assert doc.metadata["from"] == "Matthew Robinson <mrobinson@unstructured.io>"
    assert doc.metadata["cc"] == "Fake Email <fake-email@unstructured.io>, test@unstructured.io"
    assert doc.metadata["date"] == "2022-12-16T17:04:16-05:00"
    assert doc.blocks[0].text.splitlines() == [
        "From: Matthew Robinson <mrobinson@unstructured.io>",
        "To: Matthew Robinson <mrobinson@unstructured.io>",
        "Cc: Fake Email <fake-email@unstructured.io>, test@unstructured.io",
        "Date: 2022-12-16T17:04:16-05:00",
        "Subject: Test Email",
    ]
    assert "This is a test email to use for unit tests." in doc.text


def test_email_plain_text_body_is_preferred_to_html() -> None:
    doc = parse_bytes(example("eml/mime-different-plain-html.eml"), "mail.eml")
    assert "This is the text/plain part." in doc.text
    assert "text/html part" not in doc.text


def test_email_html_only_body_is_converted_to_text() -> None:
    doc = parse_bytes(example("eml/mime-html-only.eml"), "mail.eml")
    assert "The first emoticon, :) , was proposed by Scott Fahlman in 1982" in doc.text
    assert "<p>" not in doc.text and "<html" not in doc.text


def test_email_attachment_text_is_parsed_and_labelled() -> None:
    doc = parse_bytes(example("eml/fake-email-attachment.eml"), "mail.eml")
    attached = block_with(doc, "Hey this is a fake attachment!")
    assert attached.attachment == "fake-attachment.txt"
    assert block_with(doc, "Here's the attachments!").attachment is None
    assert doc.metadata["attachments"] == ["fake-attachment.txt"]


def test_email_unsupported_attachment_is_a_warning_not_a_failure() -> None:
    doc = parse_bytes(example("eml/mime-attach-mp3.eml"), "mail.eml")
    assert "This is an email with an MP3 attachment." in doc.text
    assert doc.warnings == (
        "attachment sample-3s.mp3 skipped: unsupported file type: '.mp3' files are not parsed (skipped)",
    )


def test_email_broken_attachment_is_a_warning_not_a_failure() -> None:
    msg = message("Report", "The report is attached.")
    broken = b"PK\x03\x04 definitely not a real docx"
    msg.add_attachment(broken, maintype="application", subtype="octet-stream", filename="report.docx")
    doc = parse_bytes(msg.as_bytes(), "mail.eml")
    assert "The report is attached." in doc.text
    assert len(doc.warnings) == 1 and doc.warnings[0].startswith("attachment report.docx could not be read:")


def test_email_pdf_attachment_keeps_pages() -> None:
    msg = message("Memo", "See the memo.")
    msg.add_attachment(example("pdf/fake-memo.pdf"), maintype="application", subtype="pdf", filename="memo.pdf")
    doc = parse_bytes(msg.as_bytes(), "mail.eml")
    memo = block_with(doc, "There were 20,000 bottles of water")
    assert memo.attachment == "memo.pdf" and memo.page == 1


def test_email_digest_messages_are_read_as_attached_messages() -> None:
    doc = parse_bytes(example("eml/mime-multipart-digest.eml"), "digest.eml")
    second = block_with(doc, "This is the second message in the digest.")
    assert second.attachment == "Second Message.eml"
    assert "From: frank@example.com" in block_with(doc, "Subject: Second Message").text


def test_email_nesting_is_limited_to_three_messages() -> None:
    inner = message("level 5", "five")
    for level in (4, 3, 2, 1):
        outer = message(f"level {level}", str(level))
        outer.add_attachment(inner)
        inner = outer
    doc = parse_bytes(inner.as_bytes(), "nested.eml")
    assert "Subject: level 3" in doc.text
    assert "level 4" not in doc.text and "five" not in doc.text
    assert block_with(doc, "Subject: level 3").attachment == "level 2.eml/level 3.eml"
    assert any("messages nest more than 3 deep" in w for w in doc.warnings)


def test_email_attached_eml_file_is_parsed_through_the_registry() -> None:
    outer = message("Forward", "Forwarding the original.")
    outer.add_attachment(
        example("eml/family-day.eml"), maintype="application", subtype="octet-stream", filename="family-day.eml"
    )
    doc = parse_bytes(outer.as_bytes(), "fwd.eml")
    assert block_with(doc, "Get excited for our first annual family day!").attachment == "family-day.eml"


@pytest.mark.parametrize("name", ["fake-email-utf-16.eml", "fake-email-utf-16-le.eml", "fake-email-utf-16-be.eml"])
def test_email_saved_as_utf16_is_read(name: str) -> None:
    doc = parse_bytes(example(f"eml/{name}"), name)
    assert doc.title == "Test Email"
    assert "- Roses are red" in doc.text


def test_email_utf8_body_labelled_latin1_is_decoded_as_utf8() -> None:
    doc = parse_bytes(example("eml/email-replace-mime-encodings-error-4.eml"), "mail.eml")
    assert "Hi! I’m Ihor" in doc.text
    assert "Iâ" not in doc.text


def test_email_encrypted_body_is_a_warning() -> None:
    doc = parse_bytes(example("eml/fake-encrypted.eml"), "secret.eml")
    assert doc.warnings == ("the message body is encrypted and cannot be read",)
    assert "BEGIN PGP MESSAGE" not in doc.text


def test_email_invalid_date_is_kept_as_written() -> None:
    doc = parse_bytes(example("eml/test-invalid-date.eml"), "mail.eml")
    assert doc.metadata["date"] == "INVALID-DATE-FORMAT"


def test_mbox_messages_sit_under_their_subject(tmp_path: Path) -> None:
    parts = []
    for name in ("eml/family-day.eml", "eml/fake-email-attachment.eml", "eml/mime-no-subject.eml"):
        parts.append(b"From sender@example.com Thu Jan  1 00:00:00 2024\n" + example(name).replace(b"\r\n", b"\n"))
    data = b"\n".join(parts)
    doc = parse_bytes(data, "archive.mbox")
    assert doc.metadata["messages"] == 3
    assert block_with(doc, "Get excited for our first annual family day!").heading_path == ("Family Day",)
    attached = block_with(doc, "Hey this is a fake attachment!")
    assert attached.heading_path == ("Fake email with attachment",)
    assert attached.attachment == "fake-attachment.txt"
    assert block_with(doc, "without a subject").heading_path == ("message 3",)


def test_mbox_that_is_not_a_mailbox_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not an mbox file"):
        parse_bytes(b"Subject: hi\n\nno From_ line here\n", "inbox.mbox")


def test_email_inline_pictures_of_an_html_body_are_ignored_quietly() -> None:
    msg = message("Newsletter", "")
    msg.set_content('<p>Our <b>spring</b> offers <img src="cid:logo"></p>', subtype="html")
    msg.add_related(
        b"\x89PNG fake", maintype="image", subtype="png", cid="<logo>", filename="logo.png", disposition="inline"
    )
    assert msg.get_content_type() == "multipart/related"
    doc = parse_bytes(msg.as_bytes(), "news.eml")
    assert "Our spring offers" in doc.text
    assert doc.warnings == ()
