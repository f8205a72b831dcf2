#!/usr/bin/env python3
"""A broken worker: negative_label."""

from common import main

main("negative_label")
