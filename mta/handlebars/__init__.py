"""Handlebars rendering as SendGrid does it: a bounded interpreter, SendGrid's helpers
and formatDate. Used by the templates service (checks) and the pipeline (rendering)."""
