"""What every handler needs: the app's one ``Helios``."""

from __future__ import annotations

from fastapi import Request

import helios


def get_hx(request: Request) -> helios.Helios:
    return request.app.state.hx  # type: ignore[no-any-return]
