"""Moving bookmarks in and out: bookmark files from and to other services, and full backups of the instance.

- formats/: the pure parsers and emitters of every bookmark file format, and format detection.
- importer.py: the database half of an import: validate parsed entries and store them in one transaction.
- reader_process.py: parse and validate the file in a second process while the importer writes.
- exporter.py: every bookmark, oldest first, through an emitter.
- backup.py: a full backup of the instance in one JSON file, and its restore into a new instance.
- jsonstream.py: a pull reader for one large JSON document (backups, Pinboard files) in flat memory.
"""
