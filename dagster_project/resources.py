"""Resources of the code location, configured from the PSSYNC_* environment variables."""

from __future__ import annotations

import os

import dagster as dg

from resources import LandingFolder, PsaDatabase, Warehouse
from resources.erp_staging import ErpStaging
from resources.outputs import OutputFolder
from resources.quality import DataQuality
from resources.settings import DEFAULTS, default_psa_url, setting


def env(name: str):
    """``EnvVar(name)`` when the variable is set (the UI then shows where the value comes from),
    else the working default of the embedded setup."""
    return dg.EnvVar(name) if os.environ.get(name) else setting(name)


def build_resources() -> dict:
    landing = os.environ.get("PSSYNC_LANDING_DIR") or DEFAULTS["PSSYNC_LANDING_DIR"]
    return {
        "warehouse": Warehouse(path=env("PSSYNC_WAREHOUSE")),
        "landing": LandingFolder(path=env("PSSYNC_LANDING_DIR")),
        "outputs": OutputFolder(path=env("PSSYNC_OUTPUT_DIR")),
        "quality": DataQuality(output_dir=env("PSSYNC_OUTPUT_DIR")),
        "erp_staging": ErpStaging(url=env("PSSYNC_ERP_STAGING_URL")),
        "psa": PsaDatabase(
            url=dg.EnvVar("PSSYNC_PSA_URL") if os.environ.get("PSSYNC_PSA_URL") else default_psa_url(landing)
        ),
    }
