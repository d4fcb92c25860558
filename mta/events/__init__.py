"""The event bus and its sinks: events and message-log entries batched into SQL off the hot
path, the stats and message-log counters they add up to, and retention."""
