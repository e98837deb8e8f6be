"""The download folder: its state database (schema, migrations, records, batched writer), its
lock, the scan and adoption of its files, and verify."""
