"""The Inbound Parse tables (beside mta/db/models.py, whose Base they share and which imports
them): the hostnames whose mail is posted to an account's URL, and that mail until posted."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mta.db.models import Base


class ParseSetting(Base):
    """An Inbound Parse hostname (SendGrid's parse settings): mail the MX receives for any
    address at it is posted to `url`. A hostname belongs to one account."""

    __tablename__ = "parse_settings"
    hostname: Mapped[str] = mapped_column(String(253), primary_key=True)  # lower case
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    spam_check: Mapped[bool] = mapped_column(Boolean, default=False)
    send_raw: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)


class ParseMessage(Base):
    """One received message for a parse hostname: stored (committed) before the MX answers
    250, posted by the parse poster, retried until `gives_up_at`; `raw` is the message."""

    __tablename__ = "parse_messages"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    hostname: Mapped[str] = mapped_column(String(253))
    received_at: Mapped[float] = mapped_column(Float)
    mail_from: Mapped[str] = mapped_column(String(254))
    rcpt: Mapped[list[str]] = mapped_column(JSON)
    sender_ip: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    gives_up_at: Mapped[float] = mapped_column(Float)
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    last_attempt_at: Mapped[float | None] = mapped_column(Float)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (
        Index("ix_parse_messages_due", "status", "next_attempt_at"),
        Index("ix_parse_messages_account_received", "account_id", "received_at"),
    )
