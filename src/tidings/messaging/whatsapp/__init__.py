"""WhatsApp: sender and template registry, template sends, conversations, inbound messages and statuses."""
