#!/usr/bin/env python3
"""A broken worker: stops_at_1000."""

from common import main

main("stops_at_1000")
