"""DMARC aggregate (RFC 7489 appendix C) and TLS-RPT (RFC 8460) reports received at the MX:
bounded unpacking and parsing (pure), and the receiver that stores them per account."""
