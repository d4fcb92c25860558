"""Mail that arrives at our MX: bounces (DSNs), feedback-loop complaints (ARF) and unsubscribe
mails to our return-path hosts, matched to the messages they are about and made events."""
