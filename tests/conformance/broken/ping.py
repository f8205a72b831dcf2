#!/usr/bin/env python3
"""A broken worker: ping."""

from common import main

main("ping")
