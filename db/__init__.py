"""Data layer: SQLAlchemy models, engine/session factory, Alembic migrations, the embedded PostgreSQL."""
