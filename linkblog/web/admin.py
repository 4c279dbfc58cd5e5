"""Placeholder blueprint; filled in by its own change."""
from flask import Blueprint

bp = Blueprint("admin", __name__)
