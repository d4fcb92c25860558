"""What a received report says (pure): DSNs, ARF complaints, vendor bounce formats,
auto-replies, and the reason of each failure."""
