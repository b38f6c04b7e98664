"""Pure mappings between the canonical invoice and portal documents and vocabularies.

No I/O, no clock, no environment: whatever a mapping needs (now, payloadID, profile) is passed in.
"""
