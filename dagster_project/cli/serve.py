"""``pssync serve``: the web workbench."""

from __future__ import annotations

import sqlalchemy as sa
import uvicorn

from dagster_project.cli.common import command_settings
from dagster_project.cli.identity import open_workflow
from workbench.web.app import create_app


def cmd_serve(args) -> int:
    settings = command_settings(args)
    open_workflow(settings, "serve").dispose()  # a store that cannot be opened: one line, before the server starts
    app = create_app(settings)
    store = sa.engine.make_url(settings.workflow).render_as_string(hide_password=True)
    print(f"pssync workbench on http://{args.host}:{args.port} (workflow store {store})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
