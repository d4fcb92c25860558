"""Inbound mail to our return-path hosts: VERP decoding and delivery status notifications."""
