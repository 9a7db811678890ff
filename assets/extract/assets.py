"""One Dagster asset per source object, all built from the declarations in ``specs``."""

from datetime import timedelta

import dagster as dg

from assets.common import TEAM, writer_pool
from assets.extract.fields import SourceObject
from assets.extract.loader import load_files, raw_column_type
from assets.extract.psa_load import load_psa
from assets.extract.specs import ALL
from resources import LandingFolder, PsaDatabase, Warehouse

HOURLY_OBJECTS = {"psa_time_entries", "erp_invoices", "erp_invoice_lines", "erp_payments"}


def freshness(spec: SourceObject) -> dg.FreshnessPolicy:
    """A source synced hourly is stale after 2 hours; the others after the nightly window (26 hours)."""
    if spec.name in HOURLY_OBJECTS:
        return dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=2), warn_window=timedelta(hours=1, minutes=15)
        )
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=25))


def column_schema(spec: SourceObject) -> dg.TableSchema:
    cols = [
        dg.TableColumn(
            f.column,
            raw_column_type(spec, f),
            description=f"{spec.source.upper()} field '{f.label}'" + (" (required)" if f.required else ""),
        )
        for f in spec.fields
    ]
    lineage = [
        ("_source", "source system"),
        ("_extract_id", "extraction that loaded the row"),
        ("_extracted_at", "when it was loaded"),
        ("_source_file", "landed file or PSA table"),
        ("_row_number", "row in that file"),
        ("_record_key", "record key"),
        ("_record_hash", "content hash"),
        ("_source_ts", "source timestamp dating this version"),
        ("_file_date", "date in the file name"),
        ("_extra", "unknown extra fields, as JSON"),
    ]
    return dg.TableSchema(columns=cols + [dg.TableColumn(n, "lineage", description=d) for n, d in lineage])


def build_extract_asset(spec: SourceObject) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.name,
        key_prefix=["raw"],
        group_name="extract",
        pool=writer_pool(dg.AssetKey(["raw", spec.name])),
        owners=[TEAM["integration"]],
        kinds={"duckdb", "sql" if spec.kind == "psa_table" else ("json" if spec.kind != "csv" else "csv")},
        tags={"source": spec.source, "layer": "raw"},
        description=f"{spec.description}\n\nAppend-only: every extracted version, with lineage columns. "
        f"Source: `{spec.pattern}` ({spec.kind}). Bad rows go to `quarantine.extract_rejects` and "
        f"`ops.exceptions`; the good rows flow on.",
        metadata={"dagster/column_schema": column_schema(spec), "dagster/table_name": spec.table},
        freshness_policy=freshness(spec),
    )
    def extract(
        context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingFolder, psa: PsaDatabase
    ) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            if spec.kind == "psa_table":
                res = load_psa(con, spec, psa, run_id=context.run.run_id)
            else:
                res = load_files(con, spec, landing, run_id=context.run.run_id)
            total = con.execute(f"SELECT count(*) FROM {spec.table}").fetchall()[0][0]
        if res.rejected_files:
            context.log.warning(f"{spec.name}: rejected files {res.rejected_files} (see ops.exceptions)")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": total,
                "rows_read": res.rows_read,
                "rows_loaded": res.rows_loaded,
                "rows_quarantined": res.rows_quarantined,
                "files_loaded": res.files_loaded,
                "files_skipped": res.files_skipped,
                "watermark_before": res.watermark_before or "",
                "watermark_after": res.watermark_after or "",
                "latest_source_ts": str(res.latest_source_ts or ""),
                "source_lag_hours": round(res.lag.total_seconds() / 3600, 1) if res.lag else None,
                "extract_id": res.extract_id,
            }
        )

    return extract


extract_assets = [build_extract_asset(s) for s in ALL]
