"""Placeholder blueprint; filled in by its own change."""
from flask import Blueprint

bp = Blueprint("api", __name__)
