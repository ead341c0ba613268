#!/usr/bin/env python3
"""Regenerates Tests/MailParsingTests/Fixtures from real Django / Python email output.

Usage (Django is only needed here, not by the Swift package):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install django
    /tmp/venv/bin/python Scripts/generate_fixtures.py
"""
import glob
import os
import shutil
import sys
import tempfile
from email.message import EmailMessage as StdEmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

import django
from django.conf import settings

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "MailParsingTests", "Fixtures")

SPOOL = tempfile.mkdtemp(prefix="mailparse-spool-")
settings.configure(
    EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
    EMAIL_FILE_PATH=SPOOL,
    DEFAULT_FROM_EMAIL="noreply@superlists.example",
    USE_TZ=True,
)
django.setup()

from django.core import mail  # noqa: E402
from django.core.mail import EmailMessage, EmailMultiAlternatives  # noqa: E402

URL = "https://staging.example.com/accounts/login?token=abc123&next=/lists/"
SUBJECT = "Votre lien de connexion \u2014 superlists"
TO = "\"Edith O'Brien\" <edith@example.com>"
TEXT = (
    "Bonjour Edith,\n"
    "\n"
    "Utilisez ce lien pour vous connecter \u00e0 votre compte : " + URL + "\n"
    "\n"
    "(Ce lien expire dans 15 minutes.)\n"
    "\u2014 L'\u00e9quipe superlists\n"
)
HTML = (
    "<html><body>\n"
    "<p>Bonjour Edith,</p>\n"
    '<p><a href="' + URL.replace("&", "&amp;") + '">Se connecter \u00e0 superlists</a></p>\n'
    "<p>&mdash; L'\u00e9quipe superlists</p>\n"
    "</body></html>\n"
)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    print("wrote", name, len(data), "bytes")


def multi_alternatives(encoding=None, extra_text=""):
    msg = EmailMultiAlternatives(
        subject=SUBJECT,
        body=TEXT + extra_text,
        from_email="Superlists <noreply@superlists.example>",
        to=[TO],
        cc=["Francis <FRANCIS@Example.COM>"],
        headers={"Message-ID": "<171234567890.1234.5678@superlists.example>",
                 "Date": "Tue, 02 Apr 2024 09:15:30 +0200"},
    )
    if encoding:
        msg.encoding = encoding
    msg.attach_alternative(HTML, "text/html")
    return msg


def main():
    os.makedirs(OUT, exist_ok=True)

    # 1. Django defaults: utf-8, 8bit bodies (no long lines).
    write("django_alternatives_8bit.eml", multi_alternatives().message().as_bytes())

    # 2. Django with a >998 byte line: Django switches utf-8 bodies to quoted-printable,
    #    so the URL line (longer than 76 chars) gets soft-wrapped.
    long_line = "\n" + " ".join(["superlists"] * 120) + "\n"
    write("django_alternatives_qp.eml", multi_alternatives(extra_text=long_line).message().as_bytes())

    # 3. Django with encoding iso-8859-1: quoted-printable in latin-1 (non-ASCII header
    #    words are Q-encoded as iso-8859-1 where possible).
    latin = multi_alternatives(encoding="iso-8859-1")
    latin.subject = "Votre lien de connexion \u00e0 superlists"
    latin.body = TEXT.replace("\u2014", "--")
    latin.alternatives = []
    latin.attach_alternative(HTML, "text/html")
    write("django_latin1_qp.eml", latin.message().as_bytes())

    # 4. Django with attachments (a text attachment and a binary one, both after the body).
    att = EmailMessage(
        subject="Your list export",
        body="Your export is attached.\nSee " + URL + ".\n",
        from_email="noreply@superlists.example",
        to=["edith@example.com"],
        bcc=["audit@superlists.example"],
    )
    att.attach("list.txt", "- buy peacock feathers\n- make a fly\n", "text/plain")
    att.attach("blob.bin", bytes(range(256)), "application/octet-stream")
    write("django_with_attachments.eml", att.message().as_bytes())

    # 5. Python stdlib (policy=default): base64 text part, quoted-printable html part.
    std = StdEmailMessage()
    std["Subject"] = SUBJECT
    std["From"] = "Superlists <noreply@superlists.example>"
    std["To"] = "Edith O'Brien <edith@example.com>, bob@example.org"
    std["Date"] = formatdate(1712042130, localtime=False)
    std["Message-ID"] = make_msgid(domain="superlists.example")
    std.set_content(TEXT, cte="base64")
    std.add_alternative(HTML, subtype="html", cte="quoted-printable")
    write("stdlib_base64_text_qp_html.eml", std.as_bytes())

    # 6. Python stdlib (compat32): windows-1252 text part, attachment *before* the body.
    outer = MIMEMultipart("mixed")
    outer["Subject"] = "Caf\u00e9 \u201cquotes\u201d"
    outer["From"] = "shop@example.net"
    outer["To"] = "Z\u00f6e <zoe@example.net>"
    first = MIMEText("attached notes, not the body\nhttps://attachment.example.com/ignored\n", "plain", "utf-8")
    first.add_header("Content-Disposition", "attachment", filename="notes.txt")
    outer.attach(first)
    outer.attach(MIMEText("Caf\u00e9 \u201cquotes\u201d \u2013 \u20ac5\nhttps://shop.example.net/cart?id=7.\n", "plain", "windows-1252"))
    write("stdlib_windows1252_after_attachment.eml", outer.as_bytes())

    # 7. Three messages through Django's file-based backend, one connection -> one file.
    for path in glob.glob(os.path.join(SPOOL, "*")):
        os.remove(path)
    connection = mail.get_connection()
    messages = [
        multi_alternatives(),
        EmailMessage("Second message", "Plain body\nwith a rule:\n" + "-" * 79 + "\nThanks,\nSuperlists\n",
                     "noreply@superlists.example", ["second@example.com"]),
        multi_alternatives(extra_text=long_line),
    ]
    assert connection.send_messages(messages) == 3
    files = glob.glob(os.path.join(SPOOL, "*.log"))
    assert len(files) == 1, files
    with open(files[0], "rb") as f:
        write("django_filebased_3_messages.log", f.read())
    shutil.rmtree(SPOOL)
    print("django", django.get_version(), "python", sys.version.split()[0])


if __name__ == "__main__":
    main()
