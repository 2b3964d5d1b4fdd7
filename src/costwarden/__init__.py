"""costwarden: a FinOps admission controller for Kubernetes clusters running AI/ML workloads."""

from pathlib import Path

__version__ = "0.1.0"

DATA = Path(__file__).parent / "data"
"""What ships inside the package: the bundled policies and catalog, schemas, examples."""
