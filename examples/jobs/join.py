"""A join of two inputs (CSV text): people ``id,name`` and orders ``id,person_id,amount``.

The map tags each row with its table, keyed by person id; the reduce sees one
person's row and all their orders together and emits ``name -> total``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydisco.job import map_reduce


def tag(line: str) -> Iterator[tuple[str, list[Any]]]:
    fields = line.strip().split(",")
    if len(fields) == 2:
        yield fields[0], ["person", fields[1]]
    elif len(fields) == 3:
        yield fields[1], ["order", float(fields[2])]


def join(person_id: str, rows: Iterator[list[Any]]) -> Iterator[tuple[str, float]]:
    name, amounts = None, []
    for kind, value in rows:
        if kind == "person":
            name = value
        else:
            amounts.append(value)
    if name is not None:
        yield name, sum(amounts)


orders_by_person = map_reduce(tag, join, partitions=2)

if __name__ == "__main__":
    import sys

    for name, amount in sorted(orders_by_person.run(sys.argv[1:])):
        print(f"{name}\t{amount:.2f}")
