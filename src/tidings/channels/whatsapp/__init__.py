"""WhatsApp providers: the Cloud API (meta://) here; the sandbox is the channel-wide one."""
