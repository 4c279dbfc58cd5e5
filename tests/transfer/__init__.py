"""Tests of linkblog/transfer/."""
