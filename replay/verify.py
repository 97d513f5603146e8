"""R-L2 for the command line: verify one tenant's audit chain or every tenant's, in one answer shape."""

from __future__ import annotations

from typing import Any

from projections.audit.verify import verify_every_tenant


def verify(queries: Any, tenant: str | None = None) -> dict[str, Any]:
    """`{ok, entries, tenants, first_mismatch {tenant_id, sequence, position, problem} | null, mismatches}`."""
    if tenant is None:
        result = verify_every_tenant(queries.store, queries.app)
        return {key: result[key] for key in ("ok", "entries", "tenants", "first_mismatch", "mismatches")}
    result = queries.audit_verify(tenant)
    first = result["first_mismatch"]
    if first is not None:
        first = {"tenant_id": tenant, **first}
    return {
        "ok": result["ok"],
        "entries": result["entries"],
        "tenants": 1,
        "first_mismatch": first,
        "mismatches": [first] if first else [],
    }
