"""A model as users bring them (conftest.Tagger): kept as a module for the tests that import it from here."""
from conftest import Tagger  # noqa: F401
