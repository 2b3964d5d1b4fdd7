"""Pod cost estimation: effective requests, placement, and $/h from the price catalog (pure)."""
