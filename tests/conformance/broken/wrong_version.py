#!/usr/bin/env python3
"""A broken worker: wrong_version."""

from common import main

main("wrong_version")
