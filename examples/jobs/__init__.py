"""Example pydisco jobs (run each file, or import its job)."""
