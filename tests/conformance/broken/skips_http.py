#!/usr/bin/env python3
"""A broken worker: skips_http."""

from common import main

main("skips_http")
