"""Plain helpers that tests import (constants, functions, classes); fixtures live in the conftest.py files."""
