"""Tests of linkblog/cli/."""
