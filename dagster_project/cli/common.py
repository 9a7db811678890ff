"""What the commands share: their settings, the warehouse they read, how they print a table."""

from __future__ import annotations

import json
import os
import sys

import duckdb
import polars as pl
import sqlalchemy as sa

from dagster_project.lock import refused_while_written
from resources.settings import PssyncSettings, install
from resources.warehouse import is_shared, open_warehouse


def command_settings(args, defaults: dict | None = None) -> PssyncSettings:
    """The settings of this command: its options over the PSSYNC_* environment over ``defaults``; installed as
    the ones in force (resources.settings.current) until the command returns."""
    overrides = {k: v for k, v in vars(args).items() if k in PssyncSettings.model_fields and v not in (None, "")}
    if getattr(args, "verbose", False):
        overrides["log_level"] = "INFO"
    return install(PssyncSettings.from_env(overrides, defaults))


def warn_secrets(args) -> None:
    """A password given on the command line is visible to every user of the machine: say so, and what to use."""
    for option, var in (("psa_url", "PSSYNC_PSA_PASSWORD"), ("erp_staging_url", "PSSYNC_ERP_STAGING_PASSWORD")):
        url = getattr(args, option, None)
        if url and "://" in url and sa.engine.make_url(url).password:
            print(
                f"warning: the password in --{option.replace('_', '-')} is visible to every user of this machine "
                f"(ps); leave it out and set {var}, PGPASSWORD or ~/.pgpass instead",
                file=sys.stderr,
            )


def warehouse_path(args) -> str:
    """The warehouse this command reads; one line and exit 1 when there is none yet."""
    path = command_settings(args).warehouse
    if not is_shared(path) and not os.path.exists(path):
        raise SystemExit(f"no warehouse at {path}: run `pssync run` (or `make demo`) first, or pass --warehouse")
    return path


def read_warehouse(args) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only. While a run writes an embedded one, DuckDB lets no other process open the file:
    ``WarehouseBusy`` then says who holds it (the command exits 75, as when a run meets another)."""
    path = warehouse_path(args)
    with refused_while_written(path):
        return open_warehouse(path, read_only=True)


def emit(frame: pl.DataFrame, fmt: str) -> None:
    """A frame as a table for people, or as CSV or JSON for scripts."""
    if fmt == "csv":  # CSV has no nested values: a list or a record is written as its JSON text
        nested = [c for c, t in frame.schema.items() if t.is_nested()]
        flat = frame.with_columns(
            pl.Series(c, [json.dumps(v, default=str) for v in frame[c].to_list()], dtype=pl.String) for c in nested
        )
        sys.stdout.write(flat.write_csv())
    elif fmt == "json":
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, indent=1) + "\n")
    else:
        with pl.Config(
            tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=240, tbl_hide_dataframe_shape=True
        ):
            print(frame)
