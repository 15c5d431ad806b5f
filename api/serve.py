"""Serving the REST API: uvicorn over ``api.app:create_app``, with helios's logging.

``helios api`` (``helios.cli``) checks the exposure and the configuration and applies the
migrations, then becomes this process (``python -m api --host H --port P``, the same pid), so
the library never imports the server. uvicorn keeps helios's logging (``log_config=None``: the
terminal and the rotating file, every line scrubbed of secrets) and handles Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import argparse
import logging

import uvicorn

from helios.config import ConfigError, load_settings
from helios.launch import fail, refuse_exposed
from helios.logs import configure_logging

log = logging.getLogger("helios.api")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="address to bind (default API_ADDRESS, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default API_PORT, 8000)")
    args = parser.parse_args(argv)
    refuse_exposed(api_host=args.host or "")
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    configure_logging(settings.log_level, settings.project_path(settings.log_file))
    host = args.host or settings.api_address
    port = args.port or settings.api_port
    if settings.helios_api_token is None:
        log.warning("HELIOS_API_TOKEN is not set: the API serves reads only (writes get 403)")
    print(f"helios: API on http://{host}:{port}  (docs: /docs)", flush=True)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep helios's logging (terminal and the rotating file)
        proxy_headers=False,
        server_header=False,
    )
    return 0
