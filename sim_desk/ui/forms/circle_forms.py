"""Forms for the circle of support: a partner (added or changed), an onward referral (made or
corrected), a referral's next status, and the handover plan. Keyboard-first like the others:
every row has a mnemonic, Enter saves, Escape keeps a draft."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QWidget

from sim_desk.records import circle
from sim_desk.records.circle import (
    REFERRAL_TRANSITIONS,
    HandoverDetails,
    PartnerDetails,
    PartnerView,
    ReferralClosureReason,
    ReferralDetails,
    ReferralKind,
    ReferralMadeBy,
    ReferralRejectionReason,
    ReferralStatus,
    ReferralView,
    ServiceType,
    ShareItem,
    StatusUpdate,
)
from sim_desk.records.datetext import Century
from sim_desk.ui import widgets
from sim_desk.ui.datefield import DateField
from sim_desk.ui.forms.base import FormDialog, code_combo, set_combo, text_or_none
from sim_desk.ui.forms.person_form import text_box
from sim_desk.ui.session import UiSession


def _person(context: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(context["person_id"])


def _optional_id(value: object) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


def partner_combo(
    partners: list[PartnerView], *, accessible_name: str, blank: str, current: object = None
) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(accessible_name)
    combo.addItem(blank, None)
    for partner in partners:
        if partner.active or partner.id == current:
            combo.addItem(f"{partner.name} ({partner.service_type.label})", str(partner.id))
    set_combo(combo, str(current) if current else None)
    return combo


class _CircleForm(FormDialog):
    person_id: uuid.UUID

    def draft_context(self) -> dict[str, Any]:
        return {**super().draft_context(), "person_id": str(self.person_id)}


class PartnerDialog(_CircleForm):
    """Adds someone to the circle of support, or (with ``partner_id``) changes their entry."""

    draft_kinds = ("partner.add", "partner.edit")

    def __init__(
        self,
        session: UiSession,
        person_id: uuid.UUID,
        parent: QWidget | None = None,
        *,
        partner_id: uuid.UUID | None = None,
    ) -> None:
        editing = partner_id is not None
        super().__init__(
            session,
            title="Change partner" if editing else "Add to circle of support",
            parent=parent,
            save_text="Save" if editing else "Add",
        )
        self.draft_kind = "partner.edit" if editing else "partner.add"
        self.person_id, self.partner_id = person_id, partner_id
        current = (
            circle.partner_details(session.vault, partner_id)
            if partner_id
            else PartnerDetails(service_type=ServiceType.GP_PRACTICE.value, organisation="")
        )
        form = self.add_form()
        self.service_type = code_combo(
            ServiceType, accessible_name="Kind of service", current=current.service_type
        )
        self.add_row(form, "&Kind of service", self.service_type, field="service_type")
        self.organisation = QLineEdit(current.organisation)
        self.organisation.setMaxLength(200)
        self.add_row(form, "&Organisation", self.organisation, field="organisation")
        self.worker = QLineEdit(current.worker_name or "")
        self.worker.setMaxLength(200)
        self.add_row(form, "Named &worker", self.worker, field="worker_name")
        self.role = QLineEdit(current.role or "")
        self.role.setMaxLength(200)
        self.role.setPlaceholderText("Care coordinator, GP, housing officer…")
        self.add_row(form, "&Role", self.role, field="role")
        self.reach = QLineEdit(current.how_to_reach or "")
        self.reach.setMaxLength(500)
        self.add_row(form, "How to r&each them", self.reach, field="how_to_reach")
        self.ended_on = DateField(
            current.ended_on,
            accessible_name="No longer involved from",
            clock=session.clock,
            optional=True,
        )
        self.add_row(form, "No longer &involved from", self.ended_on, field="ended_on")
        sharing = self.add_form("What the person agreed may be shared with them")
        sharing.addRow(
            widgets.hint(
                "Needs the person's consent to share with named partner services (Record tab)."
            )
        )
        self.shares: dict[str, QCheckBox] = {}
        for number, item in enumerate(ShareItem, start=1):
            box = QCheckBox(f"&{number} {item.label}")
            box.setAccessibleName(item.label)
            box.setChecked(item.value in current.shares)
            self.shares[item.value] = box
            # The first box carries the field's error ("shares"), the others their own keys.
            self.add_row(sharing, "", box, field="shares" if number == 1 else f"share.{item}")
        self.sharing_notes = text_box(current.sharing_notes, "Notes on sharing", lines=2)
        self.add_row(sharing, "&Notes on sharing", self.sharing_notes, field="sharing_notes")
        self.reason = QLineEdit()
        if editing:
            self.add_row(form, "Reason for the c&hange", self.reason, field="reason")
        self.finish()

    def draft_context(self) -> dict[str, Any]:
        extra = {"partner_id": str(self.partner_id)} if self.partner_id else {}
        return {**super().draft_context(), **extra}

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        return cls(
            session, _person(context), parent, partner_id=_optional_id(context.get("partner_id"))
        )

    def details(self) -> PartnerDetails:
        return PartnerDetails(
            service_type=self.service_type.currentData(),
            organisation=self.organisation.text(),
            worker_name=text_or_none(self.worker.text()),
            role=text_or_none(self.role.text()),
            how_to_reach=text_or_none(self.reach.text()),
            shares=[code for code, box in self.shares.items() if box.isChecked()],
            sharing_notes=text_or_none(self.sharing_notes.toPlainText()),
            ended_on=self.ended_on.value(),  # type: ignore[arg-type]
        )

    def submit(self) -> None:
        vault = self.session.vault
        if self.partner_id is None:
            self.partner_id = circle.add_partner(vault, self.person_id, self.details())
        else:
            circle.amend_partner(
                vault, self.partner_id, self.details(), reason=text_or_none(self.reason.text())
            )
        self.session.changed.emit("circle")


class ReferralDialog(_CircleForm):
    """Records an onward referral or signposting, or (with ``referral_id``) corrects one."""

    draft_kinds = ("referral.add", "referral.correct")

    def __init__(
        self,
        session: UiSession,
        person_id: uuid.UUID,
        parent: QWidget | None = None,
        *,
        referral_id: uuid.UUID | None = None,
    ) -> None:
        correcting = referral_id is not None
        super().__init__(
            session,
            title="Correct referral" if correcting else "Record onward referral",
            parent=parent,
            save_text="Save correction" if correcting else "Record",
        )
        self.draft_kind = "referral.correct" if correcting else "referral.add"
        self.person_id, self.referral_id = person_id, referral_id
        vault = session.vault
        today = vault.today()
        current = (
            circle.referral_details(vault, referral_id)
            if referral_id
            else ReferralDetails(referred_on=today, reason="", follow_up_on=today + timedelta(14))
        )
        form = self.add_form()
        self.kind = code_combo(ReferralKind, accessible_name="Referral or signposting")
        set_combo(self.kind, current.kind)
        self.add_row(form, "Referral or &signposting", self.kind, field="kind")
        self.referred_on = DateField(
            current.referred_on, accessible_name="Date referred", clock=session.clock
        )
        self.add_row(form, "&Date", self.referred_on, field="referred_on")
        self.partner = partner_combo(
            circle.list_partners(vault, person_id),
            accessible_name="Partner in the circle",
            blank="Not in the circle (name the service below)",
            current=current.partner_id,
        )
        self.add_row(form, "&Partner in the circle", self.partner, field="partner_id")
        self.to_whom = QLineEdit(current.to_whom or "")
        self.to_whom.setMaxLength(200)
        self.to_whom.setPlaceholderText("Left blank: the partner's organisation")
        self.add_row(form, "Referred &to", self.to_whom, field="to_whom")
        self.service_type = code_combo(
            ServiceType,
            accessible_name="Kind of service",
            blank="As the partner's",
            current=current.service_type,
        )
        self.add_row(form, "&Kind of service", self.service_type, field="service_type")
        self.reason = text_box(current.reason, "Why", lines=3)
        self.add_row(form, "&Why", self.reason, field="reason")
        self.made_by = code_combo(ReferralMadeBy, accessible_name="Made by")
        set_combo(self.made_by, current.made_by)
        self.add_row(form, "&Made by", self.made_by, field="made_by")
        self.follow_up_on = DateField(
            current.follow_up_on,
            accessible_name="Follow up on",
            clock=session.clock,
            century=Century.AHEAD,
            optional=True,
        )
        self.add_row(form, "&Follow up on", self.follow_up_on, field="follow_up_on")
        self.why_corrected = QLineEdit()
        if correcting:
            self.add_row(
                form, "Reason for the &correction", self.why_corrected, field="why_corrected"
            )
        self.finish()

    def draft_context(self) -> dict[str, Any]:
        extra = {"referral_id": str(self.referral_id)} if self.referral_id else {}
        return {**super().draft_context(), **extra}

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        return cls(
            session, _person(context), parent, referral_id=_optional_id(context.get("referral_id"))
        )

    def details(self) -> ReferralDetails:
        return ReferralDetails(
            referred_on=self.referred_on.value(),  # type: ignore[arg-type]
            reason=self.reason.toPlainText(),
            to_whom=text_or_none(self.to_whom.text()),
            service_type=self.service_type.currentData(),
            partner_id=_optional_id(self.partner.currentData()),
            kind=self.kind.currentData(),
            made_by=self.made_by.currentData(),
            follow_up_on=self.follow_up_on.value(),  # type: ignore[arg-type]
        )

    def submit(self) -> None:
        vault = self.session.vault
        if self.referral_id is None:
            self.referral_id = circle.record_referral(vault, self.person_id, self.details())
        else:
            circle.amend_referral(
                vault,
                self.referral_id,
                self.details(),
                reason=text_or_none(self.why_corrected.text()),
            )
        self.session.changed.emit("circle")


class ReferralStatusDialog(_CircleForm):
    """Moves a referral on: waiting, accepted, declined (with the reason), attended, closed."""

    draft_kinds = ("referral.status",)

    def __init__(
        self,
        session: UiSession,
        person_id: uuid.UUID,
        referral: ReferralView,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(session, title="Update referral", parent=parent, save_text="Update")
        self.person_id, self.referral_id = person_id, referral.id
        form = self.add_form()
        form.addRow(
            "Referral",
            widgets.hint(
                f"{referral.to_whom} · {referral.status.label.lower()} since"
                f" {widgets.format_date(referral.status_on)}"
            ),
        )
        nexts = [s for s in ReferralStatus if s in REFERRAL_TRANSITIONS[referral.status]]
        self.status = code_combo(nexts, accessible_name="New status")
        self.add_row(form, "New &status", self.status, field="status")
        self.on = DateField(
            session.vault.today(), accessible_name="Date of the change", clock=session.clock
        )
        self.add_row(form, "&Date", self.on, field="on")
        self.rejection = code_combo(
            ReferralRejectionReason, accessible_name="Reason declined", blank="Not recorded"
        )
        self.add_row(form, "Reason decl&ined", self.rejection, field="rejection_reason")
        self.closure = code_combo(
            ReferralClosureReason, accessible_name="Reason closed", blank="Not recorded"
        )
        self.add_row(form, "Reason &closed", self.closure, field="closure_reason")
        self.first_contact = DateField(
            referral.first_contact_on,
            accessible_name="First seen by the service",
            clock=session.clock,
            optional=True,
        )
        self.add_row(
            form, "&First seen by the service", self.first_contact, field="first_contact_on"
        )
        self.follow_up = DateField(
            None,
            accessible_name="Next follow-up",
            clock=session.clock,
            century=Century.AHEAD,
            optional=True,
        )
        self.add_row(form, "Next follow-&up", self.follow_up, field="follow_up_on")
        self.note = QLineEdit()
        self.add_row(form, "&Note (optional)", self.note, field="note")
        self.finish()
        self._form = form
        self.status.currentIndexChanged.connect(lambda _i: self._show_reasons())
        self._show_reasons()

    def _show_reasons(self) -> None:
        status = self.status.currentData()
        self.set_row_visible(self._form, self.rejection, status == ReferralStatus.DECLINED.value)
        self.set_row_visible(self._form, self.closure, status == ReferralStatus.CLOSED.value)

    def draft_context(self) -> dict[str, Any]:
        return {**super().draft_context(), "referral_id": str(self.referral_id)}

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        person = _person(context)
        wanted = uuid.UUID(context["referral_id"])
        [referral] = [r for r in circle.list_referrals(session.vault, person) if r.id == wanted]
        return cls(session, person, referral, parent)

    def submit(self) -> None:
        status = self.status.currentData()
        circle.update_referral_status(
            self.session.vault,
            self.referral_id,
            StatusUpdate(
                to_status=status,
                on=self.on.value(),  # type: ignore[arg-type]
                rejection_reason=self.rejection.currentData()
                if status == ReferralStatus.DECLINED.value
                else None,
                closure_reason=self.closure.currentData()
                if status == ReferralStatus.CLOSED.value
                else None,
                first_contact_on=self.first_contact.value(),  # type: ignore[arg-type]
                follow_up_on=self.follow_up.value(),  # type: ignore[arg-type]
                note=text_or_none(self.note.text()),
            ),
        )
        self.session.changed.emit("circle")


class HandoverDialog(_CircleForm):
    """Agrees (or revises) the handover plan, in the person's own words."""

    draft_kinds = ("handover",)

    def __init__(
        self, session: UiSession, person_id: uuid.UUID, parent: QWidget | None = None
    ) -> None:
        vault = session.vault
        plan = circle.handover_plan(vault, person_id)
        super().__init__(
            session,
            title="Revise handover plan" if plan else "Agree handover plan",
            parent=parent,
            save_text="Save plan",
        )
        self.person_id = person_id
        self.revising = plan is not None
        form = self.add_form()
        self.agreed_on = DateField(
            plan.agreed_on if plan else vault.today(),
            accessible_name="Agreed on",
            clock=session.clock,
        )
        self.add_row(form, "&Agreed on", self.agreed_on, field="agreed_on")
        self.partner = partner_combo(
            circle.list_partners(vault, person_id),
            accessible_name="Continuing worker",
            blank="Nobody in the circle (say who below)",
            current=plan.continuing_partner_id if plan else None,
        )
        self.add_row(form, "&Continuing worker", self.partner, field="continuing_partner_id")
        self.who = QLineEdit(plan.who_carries_on or "" if plan else "")
        self.who.setMaxLength(300)
        self.add_row(form, "&Who carries on (in words)", self.who, field="who_carries_on")
        self.wants_known = text_box(
            plan.person_wants_known if plan else None, "What they want them to know", lines=3
        )
        self.add_row(
            form, "What they want them to &know", self.wants_known, field="person_wants_known"
        )
        self.crisis_plan = text_box(
            plan.crisis_plan if plan else None, "Crisis plan in their words", lines=3
        )
        self.add_row(form, "C&risis plan in their words", self.crisis_plan, field="crisis_plan")
        self.shared_with = QLineEdit(plan.shared_with or "" if plan else "")
        self.shared_with.setMaxLength(500)
        self.add_row(form, "&Shared with", self.shared_with, field="shared_with")
        self.check_in = DateField(
            plan.check_in_on if plan else None,
            accessible_name="Pair checks in on",
            clock=session.clock,
            century=Century.AHEAD,
            optional=True,
        )
        self.add_row(form, "&Pair checks in on", self.check_in, field="check_in_on")
        self.why = QLineEdit()
        if self.revising:
            self.add_row(form, "Reason for the c&hange", self.why, field="reason")
        self.finish()

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        return cls(session, _person(context), parent)

    def submit(self) -> None:
        circle.save_handover_plan(
            self.session.vault,
            self.person_id,
            HandoverDetails(
                agreed_on=self.agreed_on.value(),  # type: ignore[arg-type]
                continuing_partner_id=_optional_id(self.partner.currentData()),
                who_carries_on=text_or_none(self.who.text()),
                person_wants_known=text_or_none(self.wants_known.toPlainText()),
                crisis_plan=text_or_none(self.crisis_plan.toPlainText()),
                shared_with=text_or_none(self.shared_with.text()),
                check_in_on=self.check_in.value(),  # type: ignore[arg-type]
            ),
            reason=text_or_none(self.why.text()),
        )
        self.session.changed.emit("circle")
