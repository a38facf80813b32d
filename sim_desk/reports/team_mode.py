"""What a report made in team mode says about how complete it is (issue 20).

A laptop in team mode holds what the team server had at its last sync: a report says so, and
which of the team's laptops had not synced by then, so that nobody reads it as the whole team's
picture when it is not.
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from sim_desk.records.sync import completeness
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.reports.layout import boxed

TITLE = "How complete this is (team mode)"


def completeness_box(vault: UnlockedVault) -> list[Flowable]:
    """A box under the report's title in team mode; nothing otherwise."""
    said = completeness.describe(completeness.completeness(vault), vault.now())
    if said is None:
        return []
    return [Spacer(1, 2 * mm), boxed(TITLE, [said]), Spacer(1, 2 * mm)]
