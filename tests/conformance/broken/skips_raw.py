#!/usr/bin/env python3
"""A broken worker: skips_raw."""

from common import main

main("skips_raw")
