"""ScaiSend's mail transfer agent: ingress, intake, queue, delivery, events and services."""
