"""pets and vaccinations

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 12:52:41.486053
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pets',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('species', sa.String(length=60), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_pets_business_id_businesses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['customers.id'], name=op.f('fk_pets_owner_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pets'))
    )
    op.create_index('ix_pets_business_owner', 'pets', ['business_id', 'owner_id'], unique=False)
    op.create_table('vaccinations',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('pet_id', sa.BigInteger(), nullable=False),
    sa.Column('vaccine', sa.String(length=120), nullable=False),
    sa.Column('administered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('valid', 'expiring_soon', 'expired', 'superseded', name='vaccination_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('superseded_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_vaccinations_business_id_businesses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pet_id'], ['pets.id'], name=op.f('fk_vaccinations_pet_id_pets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vaccinations'))
    )
    op.create_index('ix_vaccinations_business_expires', 'vaccinations', ['business_id', 'expires_at'], unique=False)
    op.create_index('ix_vaccinations_pet_vaccine_status', 'vaccinations', ['pet_id', 'vaccine', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_vaccinations_pet_vaccine_status', table_name='vaccinations')
    op.drop_index('ix_vaccinations_business_expires', table_name='vaccinations')
    op.drop_table('vaccinations')
    op.drop_index('ix_pets_business_owner', table_name='pets')
    op.drop_table('pets')
