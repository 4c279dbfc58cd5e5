"""Tests of linkblog/federation/signatures/: HTTP signatures and digests."""
