"""MetaHuman OS core: every rule and every write. Never imports Textual or Rich."""

__version__ = "0.1.0"
