"""Gateway routes, one module per resource, mirroring IngestService's annotations."""
