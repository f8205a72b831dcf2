#!/usr/bin/env python3
"""A broken worker: no_worker."""

from common import main

main("no_worker")
