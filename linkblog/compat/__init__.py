"""Other services' APIs spoken by linkblog (pure parsing and formatting; their views live in ``web/``)."""
