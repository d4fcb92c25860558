"""The SMTP listeners: submission (587 STARTTLS, 465 implicit TLS) and the inbound MX (25).

Built on aiosmtpd, all on the one asyncio loop; `servers.start_listeners` is the entry point.
"""
