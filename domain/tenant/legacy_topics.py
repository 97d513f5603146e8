"""Topics of the first release: events are stored as `module:Class`, and these modules were flat in `domain/`.

Registering the old topics lets a store written by the first release load here unchanged.
"""

from __future__ import annotations

from types import ModuleType

from eventsourcing.utils import register_topic

# old module -> the module its classes live in now
LEGACY_MODULES = {
    "domain.tenant": "domain.tenant.aggregate",
    "domain.tenant_events": "domain.tenant.events",
    "domain.access_events": "domain.tenant.structure_events",
    "domain.state": "domain.tenant.records",
}
_registered = False


def register_legacy_topics() -> None:
    """Make every `old.module:Class` topic resolve to the class where it lives now (idempotent)."""
    global _registered
    if _registered:
        return
    from domain.tenant import aggregate, events, records, structure_events

    modules: dict[str, ModuleType] = {m.__name__: m for m in (aggregate, events, records, structure_events)}
    for old, new in LEGACY_MODULES.items():
        for name, value in vars(modules[new]).items():
            if isinstance(value, type) and value.__module__ == new:
                register_topic(f"{old}:{name}", value)
    _registered = True
