"""Circle of support: who else supports the person, the referrals and signposting the pair has
made (with how each turned out), and the handover plan for stepping down."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from sim_desk.records import circle
from sim_desk.records.circle import HandoverPlanView, PartnerView, ReferralView
from sim_desk.ui import widgets
from sim_desk.ui.forms.circle_forms import (
    HandoverDialog,
    PartnerDialog,
    ReferralDialog,
    ReferralStatusDialog,
)
from sim_desk.ui.person.contacts_tab import button
from sim_desk.ui.person.context import PersonContext
from sim_desk.ui.person.letter_dialog import HandoverLetterDialog, write_handover_letter
from sim_desk.ui.person.table import Column, RowsModel, fit_rows, selected_row, table_view

STATUS_BADGE = {
    "sent": "badge",
    "waiting": "badgeWarning",
    "accepted": "badge",
    "attended": "badge",
    "declined": "badgeDanger",
}


def shares_text(partner: PartnerView) -> str:
    return ", ".join(item.label for item in partner.shares) or "Nothing agreed"


def plan_text(plan: HandoverPlanView | None) -> str:
    if plan is None:
        return (
            "No handover plan agreed yet. One is needed before the record moves to stepping down."
        )
    lines = [
        f"Agreed {widgets.format_date(plan.agreed_on)} · who carries on: {plan.carries_on}",
        f"The pair checks in on {widgets.format_date(plan.check_in_on)}"
        if plan.check_in_on
        else "No check-in date set",
    ]
    if plan.person_wants_known:
        lines.append(f"What they want them to know: {plan.person_wants_known}")
    if plan.crisis_plan:
        lines.append(f"Crisis plan in their words: {plan.crisis_plan}")
    if plan.shared_with:
        lines.append(f"Shared with: {plan.shared_with}")
    return "\n".join(lines)


class CircleTab(QWidget):
    def __init__(self, context: PersonContext) -> None:
        super().__init__()
        self.context = context
        self.setAccessibleName("Circle of support")
        self.add_partner_button = button("&Add to circle…", "Add to circle", self.add_partner)
        self.edit_partner_button = button("Chan&ge…", "Change partner", self.edit_partner)
        self.partners_model: RowsModel[PartnerView] = RowsModel(
            [
                Column("Who", lambda p: p.name),
                Column("Role", lambda p: p.role or ""),
                Column("Service", lambda p: p.service_type.label),
                Column("How to reach", lambda p: p.how_to_reach or ""),
                Column("May be shared", shares_text, tooltip=shares_text),
                Column(
                    "Involved",
                    lambda p: "Yes" if p.active else f"Until {widgets.format_date(p.ended_on)}",
                ),
            ]
        )
        self.partners = table_view(self.partners_model, "Who supports them", stretch=4)
        self.partners.doubleClicked.connect(lambda _i: self.edit_partner())

        self.refer_button = button("&Record referral…", "Record onward referral", self.refer)
        self.status_button = button("&Update status…", "Update referral status", self.update_status)
        self.correct_button = button("Correc&t…", "Correct referral", self.correct)
        self.referrals_model: RowsModel[ReferralView] = RowsModel(
            [
                Column("Date", lambda r: widgets.format_date(r.referred_on)),
                Column("Kind", lambda r: r.kind.label),
                Column("To", lambda r: r.to_whom),
                Column("Why", lambda r: r.reason, tooltip=lambda r: r.reason),
                Column(
                    "Status",
                    lambda r: f"{r.status.label} {widgets.format_date(r.status_on)}",
                    badge=lambda r: STATUS_BADGE.get(r.status.value),
                ),
                Column("Follow up", lambda r: widgets.format_date(r.follow_up_on)),
                Column(
                    "First seen",
                    lambda r: (
                        ""
                        if r.first_contact_on is None
                        else f"{widgets.format_date(r.first_contact_on)}"
                        f" ({r.days_to_first_contact} days)"
                    ),
                ),
            ]
        )
        self.referrals = table_view(self.referrals_model, "Onward referrals", stretch=3)
        self.referrals.doubleClicked.connect(lambda _i: self.update_status())
        self.referrals.selectionModel().selectionChanged.connect(lambda *_: self._buttons())

        self.handover_button = button("Agree &handover plan…", "Agree handover plan", self.handover)
        self.letter_button = button(
            "Handover &letter…", "Write a handover letter", self.handover_letter
        )
        self.letter_job: object = None
        self.letter_preview: QWidget | None = None
        self.plan = QLabel()
        self.plan.setWordWrap(True)
        self.plan.setAccessibleName("Handover plan as agreed")

        column = QVBoxLayout(self)
        column.setContentsMargins(16, 12, 16, 12)
        sections = (
            (
                "Who supports them",
                (self.add_partner_button, self.edit_partner_button),
                self.partners,
            ),
            (
                "Onward referrals and signposting",
                (self.refer_button, self.status_button, self.correct_button),
                self.referrals,
            ),
        )
        for title, pushes, table in sections:
            row = QHBoxLayout()
            row.addWidget(widgets.heading(title, level=2))
            row.addStretch(1)
            for push in pushes:
                row.addWidget(push)
            column.addLayout(row)
            column.addWidget(table)
        row = QHBoxLayout()
        row.addWidget(widgets.heading("Handover plan", level=2))
        row.addStretch(1)
        row.addWidget(self.handover_button)
        row.addWidget(self.letter_button)
        column.addLayout(row)
        column.addWidget(self.plan)
        column.addStretch(1)
        self._buttons()

    def refresh(self) -> None:
        vault = self.context.session.vault
        person = self.context.person_id
        self.partners_model.set_rows(circle.list_partners(vault, person))
        self.referrals_model.set_rows(circle.list_referrals(vault, person))
        fit_rows(self.partners, minimum_rows=2)
        fit_rows(self.referrals, minimum_rows=2)
        plan = circle.handover_plan(vault, person)
        self.plan.setText(plan_text(plan))
        self.handover_button.setText("Revise &handover plan…" if plan else "Agree &handover plan…")
        self._buttons()

    def _buttons(self) -> None:
        edit = self.context.can_edit
        referral: ReferralView | None = selected_row(self.referrals)
        for push in (
            self.add_partner_button,
            self.refer_button,
            self.handover_button,
            self.letter_button,
        ):
            push.setEnabled(edit)
        self.edit_partner_button.setEnabled(edit and self.partners_model.rowCount() > 0)
        self.correct_button.setEnabled(edit and referral is not None)
        self.status_button.setEnabled(
            edit and referral is not None and bool(circle.REFERRAL_TRANSITIONS[referral.status])
        )

    # -- actions ----------------------------------------------------------------------------
    def add_partner(self) -> None:
        self.context.open_dialog(
            PartnerDialog(self.context.session, self.context.person_id, parent=self)
        )

    def edit_partner(self) -> None:
        partner: PartnerView | None = selected_row(self.partners)
        if partner is None and self.partners_model.rowCount():
            partner = self.partners_model.rows[0]
        if partner is not None and self.context.can_edit:
            self.context.open_dialog(
                PartnerDialog(
                    self.context.session, self.context.person_id, parent=self, partner_id=partner.id
                )
            )

    def refer(self) -> None:
        self.context.open_dialog(
            ReferralDialog(self.context.session, self.context.person_id, parent=self)
        )

    def update_status(self) -> None:
        referral: ReferralView | None = selected_row(self.referrals)
        if referral is not None and self.status_button.isEnabled():
            self.context.open_dialog(
                ReferralStatusDialog(
                    self.context.session, self.context.person_id, referral, parent=self
                )
            )

    def correct(self) -> None:
        referral: ReferralView | None = selected_row(self.referrals)
        if referral is not None and self.context.can_edit:
            self.context.open_dialog(
                ReferralDialog(
                    self.context.session,
                    self.context.person_id,
                    parent=self,
                    referral_id=referral.id,
                )
            )

    def handover_letter(self) -> None:
        session, person = self.context.session, self.context.person_id
        self.context.open_dialog(
            HandoverLetterDialog(session, person, self),
            lambda dialog: self._write_letter(dialog),  # type: ignore[arg-type]
        )

    def _write_letter(self, dialog: HandoverLetterDialog) -> None:
        self.letter_job = write_handover_letter(
            self,
            self.context.session,
            self.context.person_id,
            dialog,
            on_preview=lambda preview: setattr(self, "letter_preview", preview),
        )

    def handover(self) -> None:
        self.context.open_dialog(HandoverDialog(self.context.session, self.context.person_id, self))
