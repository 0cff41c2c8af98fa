"""Inbound mail of outreach mailboxes: matching to threads, storing, classification effects."""
