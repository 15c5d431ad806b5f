"""Logging set-up for every process (L0): the terminal and an optional rotating file, every line
scrubbed of secrets (``helios.redact``: secret-looking query parameters, the configured
secrets), uvicorn's loggers included."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from helios.config import ConfigError, load_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"

# uvicorn's own loggers: their records are scrubbed at the logger too, so handlers uvicorn's
# log_config may put on them (replacing ours) never see a secret either
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def secret_filter() -> logging.Filter:
    """The one ``helios.redact.SecretFilter`` of this process, knowing the configured secrets
    (none when the configuration does not load: its error is reported elsewhere)."""
    from helios.redact import SecretFilter, configured_secrets

    global _SECRET_FILTER
    if _SECRET_FILTER is None:
        try:
            secrets = configured_secrets(load_settings())
        except ConfigError:
            secrets = []
        _SECRET_FILTER = SecretFilter(secrets)
    return _SECRET_FILTER


_SECRET_FILTER: logging.Filter | None = None


def install_secret_filter(*handlers: logging.Handler) -> None:
    """Put the secret filter on ``handlers``, on every handler of the root logger and on
    uvicorn's loggers and their handlers (once each)."""
    scrubber = secret_filter()
    targets: list[logging.Handler | logging.Logger] = [*handlers, *logging.getLogger().handlers]
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        targets += [logger, *logger.handlers]
    for target in targets:
        if scrubber not in target.filters:
            target.addFilter(scrubber)


def configure_logging(level: str = "INFO", log_file: Path | None = None) -> None:
    """Log to the terminal and, with ``log_file`` (LOG_FILE), to a rotating file (10 MB x 5);
    every line scrubbed of secrets (``helios.redact``: secret-looking query parameters, the
    configured secrets)."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_file, maxBytes=10_000_000, backupCount=5, encoding="utf-8"
            )
        )
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO), format=LOG_FORMAT, handlers=handlers
    )
    install_secret_filter()
    for noisy in ("apscheduler.executors.default", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
