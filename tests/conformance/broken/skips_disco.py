#!/usr/bin/env python3
"""A broken worker: skips_disco."""

from common import main

main("skips_disco")
