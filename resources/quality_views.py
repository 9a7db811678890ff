"""GX Data Docs views that compile their Jinja templates once per process.

GX builds a new Jinja environment for every page it renders, so each validation compiled the same templates again
(about half of a small table's validation here). These views are GX's own with a shared bytecode cache; the pages
are the same bytes. They are named in the Data Docs site's configuration (`DataQuality._context`), GX's extension point.
"""

from __future__ import annotations

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BytecodeCache


class _CompiledTemplates(BytecodeCache):
    """Compiled templates by Jinja's key (template name and source checksum): a changed template compiles again."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class PageView(DefaultJinjaPageView):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _COMPILED


class IndexPageView(DefaultJinjaIndexPageView):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _COMPILED


def site_config() -> dict:
    """GX's default local site, with these views."""
    view = {"module_name": __name__, "class_name": PageView.__name__}
    return {
        "local_site": {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": True,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": "uncommitted/data_docs/local_site/",
            },
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "view": {"module_name": __name__, "class_name": IndexPageView.__name__},
            },
            "site_section_builders": {name: {"view": view} for name in ("expectations", "validations", "profiling")},
        }
    }
