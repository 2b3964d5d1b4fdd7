"""The composition root: builds the FastAPI app and wires adapters into the engine's ports."""
