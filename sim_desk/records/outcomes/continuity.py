"""Outcomes beyond demand: onward referrals, connection with continuing support, and the wait
from referral to first contact (pure functions, like the rest of ``outcomes``).

Definitions, printed in the reports as they are here:

* A referral's **outcome** is the furthest it got: *attended* (the person was seen by the
  service), else *accepted*, else *declined*, else *still open* (sent or waiting), else
  *closed without being taken up*. A referral later closed keeps the outcome it reached first.
* A person is **connected with continuing support at step-down** when, on or before the day
  they moved to stepping down (or were closed as stepped down), at least one onward referral
  had been accepted or attended, or their handover plan named a continuing worker from their
  circle of support (issue 17's definition). Everyone who stepped down is in the denominator,
  those whose record predates handover plans included.
* **Days to first contact** runs from the day of the referral to the day the service first saw
  the person, for referrals where that day is known; referrals without it are counted apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sim_desk.records.outcomes.rates import Summary, median_iqr

#: The referral outcomes, furthest first.
OUTCOMES = ("attended", "accepted", "declined", "open", "closed")
OUTCOME_LABELS = {
    "attended": "Attended",
    "accepted": "Accepted, not yet attended",
    "declined": "Declined",
    "open": "Still open (sent or waiting)",
    "closed": "Closed without being taken up",
}


def continuity_outcomes() -> tuple[str, ...]:
    """The referral outcomes in report order (furthest first)."""
    return OUTCOMES


@dataclass(frozen=True)
class ReferralFact:
    """One onward referral: when made, the statuses it reached with their first dates, and
    when the service first saw the person (if known)."""

    referred_on: date
    reached: tuple[tuple[str, date], ...]
    first_contact_on: date | None
    kind: str = "referral"

    def first_reached(self, status: str) -> date | None:
        days = [day for s, day in self.reached if s == status]
        return min(days) if days else None

    @property
    def outcome(self) -> str:
        statuses = {s for s, _ in self.reached}
        for status in ("attended", "accepted", "declined"):
            if status in statuses:
                return status
        return "closed" if "closed" in statuses else "open"

    def connected_by(self, day: date) -> bool:
        """Accepted or attended on or before ``day``."""
        return any(
            (reached := self.first_reached(status)) is not None and reached <= day
            for status in ("accepted", "attended")
        )

    @property
    def days_to_first_contact(self) -> int | None:
        if self.first_contact_on is None:
            return None
        return (self.first_contact_on - self.referred_on).days


@dataclass(frozen=True)
class ContinuityInput:
    referrals: tuple[ReferralFact, ...]
    #: The day the person moved to stepping down (or closed as stepped down); None if not.
    stepped_down_on: date | None
    #: The handover plan names a continuing worker from the circle.
    continuing_worker: bool


@dataclass(frozen=True)
class Continuity:
    """One person's (or, summed, the cohort's) onward referrals and continuing support."""

    referrals: int
    signposting: int
    by_outcome: dict[str, int]
    stepped_down: int
    connected_at_step_down: int
    first_contact: Summary
    first_contact_unknown: int

    @property
    def connected_share(self) -> float | None:
        return self.connected_at_step_down / self.stepped_down if self.stepped_down else None


def continuity(people: Sequence[ContinuityInput]) -> Continuity:
    """The figures over ``people`` (one person for a person report)."""
    by_outcome = dict.fromkeys(OUTCOMES, 0)
    days: list[float] = []
    unknown = 0
    referrals = signposting = stepped = connected = 0
    for person in people:
        for r in person.referrals:
            by_outcome[r.outcome] += 1
            if r.kind == "signposting":
                signposting += 1
            else:
                referrals += 1
            wait = r.days_to_first_contact
            if wait is None:
                unknown += 1
            else:
                days.append(float(wait))
        if person.stepped_down_on is not None:
            stepped += 1
            day = person.stepped_down_on
            if person.continuing_worker or any(r.connected_by(day) for r in person.referrals):
                connected += 1
    return Continuity(
        referrals=referrals,
        signposting=signposting,
        by_outcome=by_outcome,
        stepped_down=stepped,
        connected_at_step_down=connected,
        first_contact=median_iqr(days),
        first_contact_unknown=unknown,
    )
