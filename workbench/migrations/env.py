"""Alembic environment of the workflow store: online migrations on the URL the caller configured, all of them in one
transaction. On SQLite the driver's own transaction handling is switched off and the transaction begun explicitly:
otherwise each ALTER TABLE commits by itself, and a migration that fails half-way leaves a store no later attempt
can migrate (tested: tests/security/test_store_upgrade.py)."""

from alembic import context
from sqlalchemy import create_engine, event

from workbench.store import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("the migrations need sqlalchemy.url (workbench/store.py, upgrade)")
engine = create_engine(url)
if engine.dialect.name == "sqlite":

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection, record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN")


with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
