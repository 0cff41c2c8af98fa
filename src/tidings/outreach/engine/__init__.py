"""The cold-email engine: sequence scheduler, mailbox rotation, personalisation, sending effects."""
