"""Query-string parameters: parsed once, by the listing's model in ``api/queries.py``."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from api.errors import validation_error

QueryModel = TypeVar("QueryModel", bound=BaseModel)


def parse_query(request: web.Request, model: type[QueryModel]) -> QueryModel:
    """The query string as ``model`` (each parameter once; unknown ones are ignored); 422 names the one at
    fault. The same model documents the parameters in the OpenAPI document (``Route.query``)."""
    values = {key: request.query.getone(key) for key in request.query}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc) from exc
