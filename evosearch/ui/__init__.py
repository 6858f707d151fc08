"""Inspecting runs: the local web page (``evosearch ui``) and lineage rendering."""

from evosearch.ui.data import RunView
from evosearch.ui.diff import genome_diff
from evosearch.ui.server import UIServer, make_server

__all__ = ["RunView", "UIServer", "genome_diff", "make_server"]
