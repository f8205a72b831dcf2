#!/usr/bin/env python3
"""A broken worker: dir_all_as_label0."""

from common import main

main("dir_all_as_label0")
