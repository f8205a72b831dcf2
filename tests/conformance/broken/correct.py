#!/usr/bin/env python3
"""The correct worker the broken ones are measured against."""

from common import main

main(None)
