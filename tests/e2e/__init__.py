"""End-to-end suites that test no one module: real `linkblog` processes, the installed wheel."""
