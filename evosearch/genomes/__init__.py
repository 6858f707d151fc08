"""Genome kinds: what evosearch evolves."""

from evosearch.genomes.base import Genome, content_hash, genome_from_json, genome_kind, genome_kinds
from evosearch.genomes.vector import VectorGenome

__all__ = [
    "Genome",
    "VectorGenome",
    "content_hash",
    "genome_from_json",
    "genome_kind",
    "genome_kinds",
]
