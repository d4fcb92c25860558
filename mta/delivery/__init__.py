"""Delivery: route to the next hop (static or MX), speak SMTP to it, classify the replies."""
