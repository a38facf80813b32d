"""linkage key and linkage grants for anonymised exports

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 04:10:00.000000

The vault's longitudinal-linkage key lives in ``vault_meta`` (inside the encrypted database); a
team lead's permission for a user to use it is a row in ``linkage_grants``. Existing vaults get
no key until a lead first grants linkage.
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vault_meta', schema=None) as batch_op:
        batch_op.add_column(sa.Column('linkage_key', sa.LargeBinary(), nullable=True))

    op.create_table('linkage_grants',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_linkage_grants_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linkage_grants'))
    )
    with op.batch_alter_table('linkage_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_linkage_grants_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('linkage_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_linkage_grants_user_id'))

    op.drop_table('linkage_grants')
    with op.batch_alter_table('vault_meta', schema=None) as batch_op:
        batch_op.drop_column('linkage_key')
