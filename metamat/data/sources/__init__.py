"""Online sources with a local cache: matbench, JARVIS (figshare) and the Materials Project (mp-api); tables that ship
in an installed package (the CRC heat capacities and formation enthalpies in ``chemicals``)."""

from metamat.data.sources.cache import cache_dir, fetch
from metamat.data.sources.chemicals_tables import load_crc_formation_enthalpy, load_crc_heat_capacity
from metamat.data.sources.jarvis import load_jarvis
from metamat.data.sources.matbench import load_matbench
from metamat.data.sources.materials_project import load_materials_project

__all__ = ["cache_dir", "fetch", "load_crc_formation_enthalpy", "load_crc_heat_capacity", "load_jarvis",
           "load_materials_project", "load_matbench"]
