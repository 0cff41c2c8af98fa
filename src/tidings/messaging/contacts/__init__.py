"""The account's contact database and its groups (messaging /contacts and /groups, CSV import and export)."""
