"""Certificates of certified messages: the signed facts, the PDF, and their public verification."""
