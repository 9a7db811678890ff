"""Resources of the code location, made from the settings in force (``resources.settings``)."""

from __future__ import annotations

from resources import LandingFolder, PsaDatabase, Warehouse
from resources.erp_staging import ErpStaging
from resources.outputs import OutputFolder
from resources.quality import DataQuality
from resources.settings import PssyncSettings, current


def build_resources(settings: PssyncSettings | None = None) -> dict:
    s = settings or current()
    return {
        "settings": s,
        "warehouse": Warehouse(path=s.warehouse, memory_limit=s.duckdb_memory_limit, data_path=s.warehouse_data),
        "landing": LandingFolder(path=s.landing_dir),
        "outputs": OutputFolder(path=s.outputs),
        "quality": DataQuality(output_dir=s.outputs),
        "erp_staging": ErpStaging(url=s.erp_staging_url),
        "psa": PsaDatabase(url=s.psa, timeout_seconds=s.psa_timeout),
    }
