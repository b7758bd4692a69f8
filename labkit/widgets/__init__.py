"""Diagrams drawn from code (graphviz, always a static SVG too) and live ipywidgets views."""
from labkit.widgets.ecosystem import ecosystem

__all__ = ["ecosystem"]
