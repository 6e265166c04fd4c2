"""`pandian web`: the read-only web leaderboard over a results store and the catalog."""

from .app import create_app

__all__ = ["create_app"]
