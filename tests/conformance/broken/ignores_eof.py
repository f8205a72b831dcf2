#!/usr/bin/env python3
"""A broken worker: ignores_eof."""

from common import main

main("ignores_eof")
