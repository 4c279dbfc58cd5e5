"""Other services' APIs spoken by linkblog: pure mappings between their shapes and ours (no Flask, no SQL)."""
