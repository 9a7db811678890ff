"""Alembic environment of the workflow store: online migrations on the URL the caller configured."""

from alembic import context
from sqlalchemy import create_engine

from workbench.store import metadata

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
