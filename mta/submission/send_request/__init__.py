"""The `/v3/mail/send` stage of the submission pipeline: the request body, its checks,
attachments, templates and substitutions, composed into message bytes per personalization."""
