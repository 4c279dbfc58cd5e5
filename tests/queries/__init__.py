"""Tests of linkblog/queries/."""
