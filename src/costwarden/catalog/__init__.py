"""The price catalog: what instance types and accelerators cost, with a source and a date."""
