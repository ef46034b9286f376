"""Sends the Postfix test's messages through an SMTP port with Python's smtplib."""
import smtplib
import sys
from email.message import EmailMessage

port = int(sys.argv[1])
to = sys.argv[2]
unknown = sys.argv[3]
alias, catch_all, full = sys.argv[4], sys.argv[5], sys.argv[6]

plain = EmailMessage()
plain["From"] = "Sender <sender@remote.test>"
plain["To"] = to
plain["Subject"] = "plain via postfix"
plain.set_content("a plain text message\n")

multi = EmailMessage()
multi["From"] = "sender@remote.test"
multi["To"] = to
multi["Subject"] = "multipart via postfix"
multi.set_content("see the attachment\n")
multi.add_attachment(bytes(range(256)) * 40, maintype="application", subtype="octet-stream", filename="data.bin")

eight = (
    "From: sender@remote.test\r\nTo: " + to + "\r\nSubject: 8-bit via postfix\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "Grüße aus Köln\r\n"
).encode("utf-8")

with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    s.send_message(plain)
    s.send_message(multi)
    s.sendmail("sender@remote.test", [to], eight, mail_options=["BODY=8BITMIME"])
    s.sendmail("sender@remote.test", [unknown], b"Subject: to nobody\r\n\r\nx\r\n")
    s.sendmail("sender@remote.test", [alias], b"Subject: to an alias\r\n\r\nx\r\n")
    s.sendmail("sender@remote.test", [catch_all], b"Subject: to a catch-all\r\n\r\nx\r\n")
    s.sendmail("sender@remote.test", [full], b"Subject: to a full mailbox\r\n\r\nx\r\n")
print("sent")
