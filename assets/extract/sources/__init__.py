"""The source objects of each source system, declared field by field (assets/extract/fields.py)."""
