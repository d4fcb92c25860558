"""The durable spool: the only truth for in-flight mail."""

from queue_store.entries import SpoolUnavailable
from queue_store.log_spool import LogSpool
from queue_store.store import QueueStore

__all__ = ["LogSpool", "QueueStore", "SpoolUnavailable"]
