"""Open, click and unsubscribe tracking: links and pixels written into a message (pure),
the signed tokens they carry, and the service that turns verified hits into events."""
