"""Email templates of the messaging dialect (v1 legacy and v2), used by templateId and templateV2Id."""
