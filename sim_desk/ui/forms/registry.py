"""Every form that keeps drafts, by draft kind (importing this module registers them all)."""

from __future__ import annotations

from sim_desk.ui.forms import (  # noqa: F401 - imported to register each form's draft kinds
    circle_forms,
    consent_form,
    contact_form,
    incident_form,
    person_form,
    plan_form,
    small,
    status_form,
)
from sim_desk.ui.forms.base import FormDialog


def form_for(kind: str) -> type[FormDialog] | None:
    """The form class that keeps drafts of ``kind``, or None for a kind this version lacks."""
    return FormDialog.kinds.get(kind)
