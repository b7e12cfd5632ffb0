"""Online sources with a local cache: matbench, JARVIS (figshare) and the Materials Project (mp-api)."""

from metamat.data.sources.cache import cache_dir, fetch
from metamat.data.sources.jarvis import load_jarvis
from metamat.data.sources.matbench import load_matbench
from metamat.data.sources.materials_project import load_materials_project

__all__ = ["cache_dir", "fetch", "load_jarvis", "load_materials_project", "load_matbench"]
