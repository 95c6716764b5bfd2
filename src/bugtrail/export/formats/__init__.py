"""Training-ready export formats: pure converters from the exported trace record to a row.

The record is the GET /api/traces/{id} document as JSON (wire.TraceRead plus the keys other domains add);
events are passed separately as an iterable so a caller can feed them a keyset page at a time.
"""
