"""The data map: Fides datasets plus Tutela's declarations of subjects, consents and acts."""

from tutela.datamap.check import Problem, check
from tutela.datamap.loader import DataMap, load_datamap

__all__ = ["DataMap", "Problem", "check", "load_datamap"]
