"""linkblog's tests; tests/README.md maps the folders to the package and says how to run subsets."""
