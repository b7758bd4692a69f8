"""Diagrams drawn from code (graphviz, always a static SVG too) and live ipywidgets views.

One module per diagram, named for it (proctree, layers, containerd_view, cri_view, imagegraph,
lifecycle, ns_table, gauges, overlay_view); import from the module. Only the course map is here.
"""
from labkit.widgets.ecosystem import ecosystem

__all__ = ["ecosystem"]
