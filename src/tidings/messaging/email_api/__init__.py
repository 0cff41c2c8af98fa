"""The email dialect's use cases (Wavy Email API): send, status search and the list-once status feed."""
