"""How dates and the aggregate's state records are stored in events and snapshots (JSON transcodings)."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import Any

from eventsourcing.persistence import Transcoding


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    """Snapshots hold the aggregate's state records; this stores one record type as a dict."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = cls.__name__
        self.names = [f.name for f in fields(cls)]

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self.names}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)
