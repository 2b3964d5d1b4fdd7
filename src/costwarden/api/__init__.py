"""The FastAPI edge: /validate, /mutate, health and readiness."""
