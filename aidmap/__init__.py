"""aidmap: an open GraphQL engine connecting people who need help with neighbours who can give it."""

__version__ = "0.1.0"
