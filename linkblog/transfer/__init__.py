"""Moving bookmarks in and out: import, export, full backup and restore."""
