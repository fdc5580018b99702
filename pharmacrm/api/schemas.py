"""Shared API schema bases."""

from ninja import Schema
from pydantic import ConfigDict


class InputSchema(Schema):
    """Request bodies: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, list[str]]


class ErrorOut(Schema):
    error: ErrorDetail
