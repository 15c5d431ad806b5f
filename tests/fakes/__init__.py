"""Fakes of the outside world for tests: real servers on 127.0.0.1, never the internet.

- ``valr``: a fake VALR REST API (public market data now; built to grow into the private,
  signed endpoints and orders).
- ``receiver``: an alert receiver (apprise's ``json://`` webhook posts, kept for the test).
"""
