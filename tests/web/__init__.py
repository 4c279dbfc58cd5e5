"""Tests of linkblog/web/."""
