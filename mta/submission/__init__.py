"""The one submission pipeline for SMTP and HTTP: validate, authorise, render, build MIME,
sign, spool, and record the message as processed."""
