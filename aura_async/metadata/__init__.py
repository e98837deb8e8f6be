"""Metadata written into or beside files: EXIF and sidecars (pure bytes)."""
