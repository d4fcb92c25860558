"""Scheduling: which queued message is tried when, retries with backoff, expiry."""
