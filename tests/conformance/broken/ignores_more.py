#!/usr/bin/env python3
"""A broken worker: ignores_more."""

from common import main

main("ignores_more")
