"""the circle of support: partners, onward referrals, handover plans (issue 17)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:30:00.000000

Who else supports the person (and what they agreed may be shared with each), the referrals and
signposting the pair made with their status history, and the handover plan for stepping down.
A disclosure now says whether it went to police or to a partner; every earlier one went to
police. A status change records whether a team lead moved a record on without a handover plan.
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _tracked() -> list[sa.Column]:
    return [
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.Uuid(), nullable=True),
    ]


def _revisions(table: str, column: str, parent: str) -> None:
    op.create_table(table,
    sa.Column(column, sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    *_tracked(),
    sa.ForeignKeyConstraint([column], [f'{parent}.id'], name=op.f(f'fk_{table}_{column}_{parent}')),
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}'))
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)


def upgrade() -> None:
    op.create_table('support_partners',
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('service_type', sa.String(length=20), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('worker_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=200), nullable=True),
    sa.Column('how_to_reach', sa.String(length=500), nullable=True),
    sa.Column('shares', sa.JSON(), nullable=False),
    sa.Column('sharing_notes', sa.Text(), nullable=True),
    sa.Column('consent_id', sa.Uuid(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    *_tracked(),
    sa.ForeignKeyConstraint(['consent_id'], ['consents.id'], name=op.f('fk_support_partners_consent_id_consents')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_support_partners_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_partners'))
    )
    with op.batch_alter_table('support_partners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_partners_person_id'), ['person_id'], unique=False)
    _revisions('support_partner_revisions', 'partner_id', 'support_partners')

    op.create_table('onward_referrals',
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('referred_on', sa.Date(), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=True),
    sa.Column('service_type', sa.String(length=20), nullable=False),
    sa.Column('to_whom', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('made_by', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_on', sa.Date(), nullable=False),
    sa.Column('follow_up_on', sa.Date(), nullable=True),
    sa.Column('first_contact_on', sa.Date(), nullable=True),
    sa.Column('rejection_reason', sa.String(length=20), nullable=True),
    sa.Column('closure_reason', sa.String(length=20), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    *_tracked(),
    sa.ForeignKeyConstraint(['partner_id'], ['support_partners.id'], name=op.f('fk_onward_referrals_partner_id_support_partners')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_onward_referrals_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onward_referrals'))
    )
    with op.batch_alter_table('onward_referrals', schema=None) as batch_op:
        batch_op.create_index('ix_onward_referrals_person', ['person_id', 'referred_on'], unique=False)
        batch_op.create_index('ix_onward_referrals_follow_up', ['follow_up_on', 'status'], unique=False)

    op.create_table('referral_status_changes',
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('changed_on', sa.Date(), nullable=False),
    sa.Column('reason_code', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    *_tracked(),
    sa.ForeignKeyConstraint(['referral_id'], ['onward_referrals.id'], name=op.f('fk_referral_status_changes_referral_id_onward_referrals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_status_changes'))
    )
    with op.batch_alter_table('referral_status_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_status_changes_referral_id'), ['referral_id'], unique=False)
    _revisions('referral_revisions', 'referral_id', 'onward_referrals')

    op.create_table('handover_plans',
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('continuing_partner_id', sa.Uuid(), nullable=True),
    sa.Column('who_carries_on', sa.String(length=300), nullable=True),
    sa.Column('person_wants_known', sa.Text(), nullable=True),
    sa.Column('crisis_plan', sa.Text(), nullable=True),
    sa.Column('shared_with', sa.String(length=500), nullable=True),
    sa.Column('check_in_on', sa.Date(), nullable=True),
    sa.Column('agreed_on', sa.Date(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    *_tracked(),
    sa.ForeignKeyConstraint(['continuing_partner_id'], ['support_partners.id'], name=op.f('fk_handover_plans_continuing_partner_id_support_partners')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_handover_plans_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handover_plans')),
    sa.UniqueConstraint('person_id', name=op.f('uq_handover_plans_person_id'))
    )
    _revisions('handover_plan_revisions', 'plan_id', 'handover_plans')

    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient', sa.String(length=10), nullable=False, server_default='police'))
        batch_op.add_column(sa.Column('partner_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_disclosures_partner_id_support_partners'), 'support_partners', ['partner_id'], ['id'])
    with op.batch_alter_table('person_status_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handover_overridden', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person_status_changes', schema=None) as batch_op:
        batch_op.drop_column('handover_overridden')
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_disclosures_partner_id_support_partners'), type_='foreignkey')
        batch_op.drop_column('partner_id')
        batch_op.drop_column('recipient')
    op.drop_table('handover_plan_revisions')
    op.drop_table('handover_plans')
    op.drop_table('referral_revisions')
    op.drop_table('referral_status_changes')
    op.drop_table('onward_referrals')
    op.drop_table('support_partner_revisions')
    op.drop_table('support_partners')
