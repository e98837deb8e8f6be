"""Downloading: the session of a run, one frame's job, the worker pool, one fetch attempt, and
the file being written."""
