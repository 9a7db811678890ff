"""The web workbench: server-rendered pages and the /api/v1 JSON API (``pssync serve``)."""
