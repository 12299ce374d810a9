"""The data-category and data-use taxonomy: fideslang's keys plus Tutela's extensions."""

from tutela.taxonomy.model import Taxonomy, load_taxonomy

__all__ = ["Taxonomy", "load_taxonomy"]
