"""The one exception a data-layer change raises when it cannot be made as asked (the API answers 409)."""

from __future__ import annotations


class FieldConflict(Exception):
    """The change conflicts with what is stored; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
