"""SMTP ingress: the submission (587 STARTTLS, 465 implicit TLS) and inbound MX (25) listeners.

Built on aiosmtpd, all on the one asyncio loop; `listeners.start_listeners` is the entry point.
"""
