"""Genome kinds: what evosearch evolves."""

from evosearch.genomes.base import Genome, content_hash, genome_from_json, genome_kind, genome_kinds
from evosearch.genomes.code import CodeGenome
from evosearch.genomes.text import TextGenome
from evosearch.genomes.vector import VectorGenome

__all__ = [
    "CodeGenome",
    "Genome",
    "TextGenome",
    "VectorGenome",
    "content_hash",
    "genome_from_json",
    "genome_kind",
    "genome_kinds",
]
