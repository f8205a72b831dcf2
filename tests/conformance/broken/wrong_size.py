#!/usr/bin/env python3
"""A broken worker: wrong_size."""

from common import main

main("wrong_size")
