"""The core's shared types: ids and records (model), the error tree, the event record,
the clock, metrics, the DNS resolver seam, address helpers. Every feature may import it."""
