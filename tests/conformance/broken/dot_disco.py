#!/usr/bin/env python3
"""A broken worker: dot_disco."""

from common import main

main("dot_disco")
