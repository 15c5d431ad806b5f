"""The account book (L1): the account row, bookings of cash, valuations and the invariants.

Session-level functions over the ledger tables; ``hx.ledger`` (``helios.ledger.Ledger``) is the
service over them."""
