"""A store of the previous release upgrades in place, and an upgrade that fails leaves it as it was. Before the
transactional migration environment, a failure in the middle of 0006 on SQLite left columns added and the revision
unchanged: no later attempt could migrate the store ("duplicate column name")."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from workbench.store import MIGRATIONS, head, open_store

T0 = datetime(2026, 12, 1, 9, 0)


def _at(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


def _previous_release(url: str) -> None:
    """A store as the release before the controls left it: revision 0005, a finance user with a token."""
    _at(url, "0005")
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO users (username, role, password_hash, created_at) VALUES ('fiona', 'finance', NULL, :t)"
            ),
            {"t": T0},
        )
        c.execute(
            sa.text("INSERT INTO api_tokens (token_hash, username, created_at) VALUES (:h, 'fiona', :t)"),
            {"h": "ab" * 32, "t": T0},
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workflow.db'}"
    return request.getfixturevalue("pg_database")


def test_a_store_of_the_previous_release_upgrades_and_its_old_tokens_expire(url):
    _previous_release(url)
    engine = open_store(url)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == head()
        version, expires = c.execute(
            sa.text("SELECT u.auth_version, t.expires_at FROM users u JOIN api_tokens t USING (username)")
        ).one()
        threshold = c.execute(sa.text("SELECT value FROM policies WHERE name = 'dual_approval_above'")).scalar()
    assert version == 1 and threshold == "50000.00"
    assert expires is not None and str(expires)[:10] == str((T0 + timedelta(days=90)).date()), "no token lives forever"
    engine.dispose()


def test_an_upgrade_that_fails_half_way_leaves_the_store_as_it_was_and_a_second_attempt_completes(url):
    _previous_release(url)
    engine = sa.create_engine(url)
    with engine.begin() as c:  # something in the way of the upgrade's last table
        c.execute(sa.text("CREATE TABLE policies (name VARCHAR(10))"))
    with pytest.raises(sa.exc.DBAPIError):
        open_store(url)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0005"
        columns = {col["name"] for col in sa.inspect(c).get_columns("users")}
    assert "auth_version" not in columns, "nothing of the failed upgrade stayed"
    with engine.begin() as c:
        c.execute(sa.text("DROP TABLE policies"))
    engine.dispose()
    upgraded = open_store(url)
    with upgraded.connect() as c:
        assert c.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == head()
    upgraded.dispose()
