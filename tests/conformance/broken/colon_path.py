#!/usr/bin/env python3
"""A broken worker: colon_path."""

from common import main

main("colon_path")
