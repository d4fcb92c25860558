"""The `scaisend` command line: serve, token, check-config, and the queue, inbound and
db command groups."""
