#!/usr/bin/env python3
"""A broken worker: missing_output."""

from common import main

main("missing_output")
