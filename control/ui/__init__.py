"""The dashboard at `/ui/`: server-rendered pages (Jinja2 templates, a little htmx) over the
same services, principals and scopes as the API."""
