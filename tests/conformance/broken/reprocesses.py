#!/usr/bin/env python3
"""A broken worker: reprocesses."""

from common import main

main("reprocesses")
