"""Running the server: the Platform, the ASGI app, uvicorn, and clean shutdown.

uvicorn handles SIGINT/SIGTERM by finishing in-flight requests and then leaving
``serve()``; the platform is closed after it returns, so no environment outlives
the server.
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from lambdad.api.app import App
from lambdad.platform import Platform

log = logging.getLogger(__name__)


def build_server(platform: Platform) -> uvicorn.Server:
    app = App(platform)
    config = uvicorn.Config(
        app,
        host=platform.settings.host,
        port=platform.settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        server_header=False,
        date_header=True,
    )
    return uvicorn.Server(config)


def run(platform: Platform) -> None:
    server = build_server(platform)
    try:
        asyncio.run(server.serve())
    finally:
        platform.close()
