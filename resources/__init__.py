"""Connections to the outside world: the landing folder, the PSA database, the warehouse."""

from resources.landing import LandingFolder
from resources.psa import PsaDatabase
from resources.warehouse import Warehouse

__all__ = ["LandingFolder", "PsaDatabase", "Warehouse"]
