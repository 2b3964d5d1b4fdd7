"""Budget reservations: cost admitted but not yet visible in spend data.

- `keys`: what a reservation is held under — the one format the engine writes and the
  adapters (the pod watch, the spend refresher) read;
- `ledger`: the in-memory ledger that holds them (implements `engine.ports.Reservations`).

What a verdict asks to hold is an `engine.ports.Reservation`; the app commits it.
"""
