"""Email validation (messaging dialect): checks in the engine, verdicts per address, notifications."""
