#!/usr/bin/env python3
"""A broken worker: fatal_missing_replica."""

from common import main

main("fatal_missing_replica")
