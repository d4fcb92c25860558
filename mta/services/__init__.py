"""Account-scoped services shared by the SMTP and HTTP edges."""
