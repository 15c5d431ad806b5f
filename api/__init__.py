"""Helios's REST API (issue #9): the seed's endpoints over ``helios.connect()``, as thin as the
dashboard's pages. ``api.app.create_app`` builds it; ``helios api`` serves it with uvicorn."""
