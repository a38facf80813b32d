"""An attacker's tools, written apart from the exporter: they read only the files it writes.

* :class:`IntervalAttacker` reads aggregates.csv and data_dictionary.json, builds every additive
  relation the dictionary documents (groups add up to everyone, incident types add up to
  "all demand" and "all harms", directions add up to people, the flow's two partitions, flow
  enrolled = everyone enrolled, attended <= contacts), and asks SciPy's MILP solver directly for
  the smallest and largest value of each rounded or hidden figure. It undoes rounding,
  differences rows, columns, totals and tables, all at once.
* :func:`denominators_from_rates` divides published counts by published rates.
* :func:`link` finds the rows of people.csv that agree with what someone knows of a person.

The tests decide what counts as success; true values come from the vault.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_array
from scipy.sparse.csgraph import connected_components

ADDITIVE = re.compile(r"(people(_\w+)?|contacts|attended|\w+_count|\w+_person_years)$")
FLOW_STATUSES_PREFIX = ("waiting", "active", "stepping_down", "closed_")


def read_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def key_of(row: Mapping[str, str]) -> tuple[str, ...]:
    return (row["table"], row["breakdown"], row["group"], row["incident_type"], row["measure"])


def relations(rows: Sequence[Mapping[str, str]], dictionary: Mapping) -> list[tuple[tuple, list]]:
    """(total, parts) for every additive relation the dictionary documents, over these rows."""
    keys = {key_of(r) for r in rows}
    out: list[tuple[tuple, list]] = []
    flow = [k for k in keys if k[0] == "flow"]
    if flow:
        referred = ("flow", "all", "All", "", "referred")
        out.append(
            (
                referred,
                [
                    ("flow", "all", "All", "", "enrolled"),
                    ("flow", "all", "All", "", "not_enrolled"),
                ],
            )
        )
        out.append((referred, [k for k in flow if k[4].startswith(FLOW_STATUSES_PREFIX)]))
        out.append(
            (("flow", "all", "All", "", "enrolled"), [("outcomes", "all", "All", "", "people")])
        )
    groups: dict[str, set[str]] = defaultdict(set)
    measures: set[tuple[str, str]] = set()
    for k in keys:
        if k[0] == "outcomes" and ADDITIVE.fullmatch(k[4]):
            groups[k[1]].add(k[2])
            measures.add((k[3], k[4]))
    for breakdown, labels in groups.items():
        if breakdown == "all":
            continue
        for kind, measure in measures:
            out.append(
                (
                    ("outcomes", "all", "All", kind, measure),
                    [("outcomes", breakdown, g, kind, measure) for g in labels],
                )
            )
    made_of = {
        total: list(spec["made_of"]) for total, spec in dictionary["incident_type_groups"].items()
    }
    for breakdown, labels in groups.items():
        for group in labels:
            base = ("outcomes", breakdown, group)
            for total, members in made_of.items():
                for window in ("before_count", "after_count"):
                    out.append(((*base, total, window), [(*base, m, window) for m in members]))
            for kind in {k[3] for k in keys if k[4] == "people_down"}:
                out.append(
                    (
                        (*base, "", "people"),
                        [(*base, kind, f"people_{d}") for d in dictionary["directions"]],
                    )
                )
    return [(t, p) for t, p in out if t in keys and all(x in keys for x in p)]


class IntervalAttacker:
    """Every rounded or hidden additive figure's range, given everything else published."""

    def __init__(self, rows: Sequence[Mapping[str, str]], dictionary: Mapping) -> None:
        self.rows = {
            key_of(r): r for r in rows if r["table"] == "flow" or ADDITIVE.fullmatch(r["measure"])
        }
        self.keys = list(self.rows)
        index = {k: i for i, k in enumerate(self.keys)}
        n = len(self.keys)
        low, high, integer = np.zeros(n), np.full(n, np.inf), np.ones(n)
        for i, k in enumerate(self.keys):
            row = self.rows[k]
            years = k[4].endswith("person_years")
            integer[i] = 0 if years else 1
            if row["status"] == "suppressed":
                continue
            value = float(row["value"])
            if row["status"] == "shown":
                low[i] = high[i] = value
            else:  # rounded: counts to the nearest 5, person-years to the nearest year
                half = 0.5 if years else 2
                low[i], high[i] = max(0.0, value - half), value + half
        equalities = relations(rows, dictionary)
        # attended <= contacts, for every group that has both
        pairs = [
            (index[k], index[(*k[:4], "attended")])
            for k in self.keys
            if k[4] == "contacts" and (*k[:4], "attended") in index
        ]
        matrix = lil_array((len(equalities) + len(pairs), n))
        for r, (total, parts) in enumerate(equalities):
            matrix[r, index[total]] = 1
            for p in parts:
                matrix[r, index[p]] = matrix[r, index[p]] - 1
        for r, (contacts, attended) in enumerate(pairs, start=len(equalities)):
            matrix[r, contacts] = 1
            matrix[r, attended] = -1
        self.matrix = matrix.tocsr()
        self.lower = np.zeros(matrix.shape[0])
        self.upper = np.concatenate([np.zeros(len(equalities)), np.full(len(pairs), np.inf)])
        self.cap = 10 * (np.nansum(np.where(np.isfinite(high), high, 0)) + 1000)
        self.low, self.high = low, np.minimum(high, self.cap)
        self.integer = integer
        self.index = index
        self.relations = equalities
        # Figures linked by no chain of relations are solved apart (the same answers, sooner).
        graph = (abs(self.matrix).T @ abs(self.matrix)).tocsr()
        _, self.component = connected_components(graph, directed=False)

    def interval(self, key: tuple) -> tuple[float, float]:
        i = self.index[key]
        columns = np.flatnonzero(self.component == self.component[i])
        rows = np.unique(self.matrix[:, columns].nonzero()[0])
        matrix = self.matrix[rows][:, columns]
        constraint = LinearConstraint(matrix, self.lower[rows], self.upper[rows])
        at = int(np.flatnonzero(columns == i)[0])
        ends = []
        for sign in (1.0, -1.0):
            objective = np.zeros(len(columns))
            objective[at] = sign
            result = milp(
                objective,
                constraints=[constraint] if len(rows) else [],
                integrality=self.integer[columns],
                bounds=Bounds(self.low[columns], self.high[columns]),
            )
            assert result.success, result.message  # the published figures are consistent
            ends.append(float(result.x[at]))
        low, high = ends
        return low, math.inf if high >= self.cap - 1 else high

    def targets(self) -> list[tuple]:
        return [k for k in self.keys if self.rows[k]["status"] != "shown"]


def denominators_from_rates(rows: Sequence[Mapping[str, str]]) -> list[tuple[tuple, float, float]]:
    """For each published rate: (key, count / rate, the published person-years)."""
    by_key = {key_of(r): r for r in rows}
    out = []
    for key, row in by_key.items():
        if not row["measure"].endswith("_rate") or row["value"] == "":
            continue
        window = row["measure"].removesuffix("_rate")
        count = by_key[(*key[:4], f"{window}_count")]
        years = by_key[(*key[:3], "", f"{window}_person_years")]
        rate = float(row["value"])
        if rate > 0:
            out.append((key, float(count["value"]) / rate, float(years["value"])))
    return out


def band_contains(label: str, value: int | None) -> bool:
    """Whether a released band label ("3-4", "10+", "0", "Any", "Not known") holds a value."""
    if label == "Any":
        return True
    if value is None:
        return label == "Not known"
    if label.endswith("+"):
        return value >= int(label[:-1])
    if "-" in label:
        low, high = label.split("-")
        return int(low) <= value <= int(high)
    return label.isdigit() and int(label) == value


def link(
    people_rows: Sequence[Mapping[str, str]], known: Mapping[str, object]
) -> list[Mapping[str, str]]:
    """The rows that agree with everything known: exact numbers against bands, labels equal."""
    out = []
    for row in people_rows:
        ok = True
        for column, value in known.items():
            label = row[column]
            if isinstance(value, int) or value is None:
                ok = band_contains(label, value)
            else:
                ok = label in ("Any", value)
            if not ok:
                break
        if ok:
            out.append(row)
    return out


def load_export(folder: Path) -> tuple[list[dict[str, str]], list[dict[str, str]], dict]:
    aggregates = read_rows((folder / "aggregates.csv").read_bytes())
    people_file = folder / "people.csv"
    people_rows = read_rows(people_file.read_bytes()) if people_file.exists() else []
    dictionary = json.loads((folder / "data_dictionary.json").read_text("utf-8"))
    return aggregates, people_rows, dictionary
