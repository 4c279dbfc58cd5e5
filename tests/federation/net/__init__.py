"""Tests of linkblog/federation/net/: the guarded HTTP client."""
