"""Events: one record shape for everything that happens to a message, and the bus that fans
them out to the message log, the webhook outbox and the webhook sender."""
