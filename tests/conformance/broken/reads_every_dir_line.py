#!/usr/bin/env python3
"""A broken worker: reads_every_dir_line."""

from common import main

main("reads_every_dir_line")
