"""Report documents for the tests: a DMARC aggregate report as Google and Microsoft send them
(RFC 7489 appendix C) and an RFC 8460 TLS-RPT report, with the bytes of their usual wrappers."""

from __future__ import annotations

import datetime as dt
import email.policy
import gzip
import io
import json
import zipfile
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any


def dmarc_xml(
    domain: str = "mail.example.com", report_id: str = "r-1", begin: int = 1764892800
) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <report_id>{report_id}</report_id>
    <date_range><begin>{begin}</begin><end>{begin + 86399}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>quarantine</p><pct>100</pct>
  </policy_published>
  <record>
    <row>
      <source_ip>192.0.2.10</source_ip><count>12</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers><header_from>{domain}</header_from></identifiers>
    <auth_results>
      <dkim><domain>{domain}</domain><result>pass</result><selector>scaisend1</selector></dkim>
      <spf><domain>bounces.{domain}</domain><result>pass</result></spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>203.0.113.66</source_ip><count>3</count>
      <policy_evaluated><disposition>quarantine</disposition><dkim>fail</dkim><spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers><header_from>{domain}</header_from></identifiers>
    <auth_results><spf><domain>spoofer.example</domain><result>softfail</result></spf>
    </auth_results>
  </record>
</feedback>
""".encode()


def tlsrpt_json(
    domain: str = "mail.example.com", report_id: str = "t-1", begin: int = 1764892800
) -> bytes:
    start = dt.datetime.fromtimestamp(begin, dt.UTC)
    report: dict[str, Any] = {
        "organization-name": "Company-X",
        "date-range": {
            "start-datetime": start.isoformat().replace("+00:00", "Z"),
            "end-datetime": (start + dt.timedelta(seconds=86399)).isoformat(),
        },
        "contact-info": "sts-reporting@company-x.example",
        "report-id": report_id,
        "policies": [
            {
                "policy": {
                    "policy-type": "sts",
                    "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.test"],
                    "policy-domain": domain,
                    "mx-host": ["*.mail.test"],
                },
                "summary": {
                    "total-successful-session-count": 5326,
                    "total-failure-session-count": 303,
                },
                "failure-details": [
                    {
                        "result-type": "certificate-expired",
                        "sending-mta-ip": "2001:db8:abcd:0012::1",
                        "receiving-mx-hostname": "mx1.mail.test",
                        "failed-session-count": 100,
                    },
                    {
                        "result-type": "starttls-not-supported",
                        "sending-mta-ip": "2001:db8:abcd:0013::1",
                        "receiving-mx-hostname": "mx2.mail.test",
                        "receiving-ip": "203.0.113.56",
                        "failed-session-count": 203,
                        "additional-information": "https://reports.company-x.example/x",
                    },
                ],
            }
        ],
    }
    return json.dumps(report).encode()


def zipped(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def report_mail(
    attachment: bytes, content_type: str, filename: str, to: str = "dmarc@bounces.example.com"
) -> bytes:
    """A report mail as reporters send it: a short text part and the report attached."""
    mail = MIMEMultipart()
    mail["From"] = "noreply-dmarc-support@google.com"
    mail["To"] = to
    mail["Subject"] = f"Report Domain: example.com Submitter: google.com Report-ID: {filename}"
    mail.attach(MIMEText("This is an aggregate report."))
    subtype = content_type.split("/")[1]
    part = MIMEApplication(attachment, subtype)
    part.replace_header("Content-Type", content_type)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    mail.attach(part)
    return mail.as_bytes(policy=email.policy.SMTP)


def gzipped(content: bytes) -> bytes:
    return gzip.compress(content)
