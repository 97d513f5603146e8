"""The directory's tables: what the API lists and looks up (tenants, members, invitations, tokens, add-ons,
charges, grants, assignments, custom roles, restrictions, reporting lines, resource parents), each row keyed by
tenant so one tenant can be rebuilt alone.

Index and constraint names are `<table><suffix>_<label>`: a rebuild that swaps `x_next` in for `x` renames them by
dropping the suffix, and the next rebuild's `_next` names are free again.
"""

from __future__ import annotations

from projections.batch import Schema

TABLES = (
    "dir_tenants",
    "dir_members",
    "dir_roles",
    "dir_invitations",
    "dir_tokens",
    "dir_addons",
    "dir_charges",
    "dir_grants",
    "dir_assignments",
    "dir_role_defs",
    "dir_restrictions",
    "dir_reporting",
    "dir_parents",
    "dir_resources",
)

# table → (columns, primary key, {index label: (columns, partial condition | None)})
SCHEMA: Schema = {
    "dir_tenants": (
        """tenant_id TEXT NOT NULL, aggregate_id TEXT NOT NULL, name TEXT NOT NULL, owner_id TEXT NOT NULL,
        plan_name TEXT NOT NULL, included_seats INTEGER NOT NULL, billing_interval TEXT NOT NULL,
        currency TEXT NOT NULL, term_start TEXT NOT NULL, term_end TEXT NOT NULL, term_end_at TEXT NOT NULL,
        min_admins INTEGER NOT NULL, status TEXT NOT NULL, closes_at TEXT, cancel_position BIGINT,
        closed_at TEXT, closed_position BIGINT, opened_at TEXT NOT NULL, opened_position BIGINT NOT NULL,
        last_position BIGINT NOT NULL""",
        "tenant_id",
        {"moved": ("last_position", None)},
    ),
    "dir_members": (
        """tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, joined_position BIGINT NOT NULL, email TEXT NOT NULL,
        name TEXT NOT NULL, role TEXT NOT NULL, seat_order INTEGER NOT NULL, reports_to TEXT,
        status TEXT NOT NULL, joined_at TEXT NOT NULL, via TEXT NOT NULL, invitation_id TEXT,
        removed_at TEXT, removed_position BIGINT, removal_reason TEXT""",
        "tenant_id, user_id, joined_position",
        {"seat": ("tenant_id, seat_order", None)},
    ),
    # One row per role a member held, for as-of listings and checks (R-C3); a removal closes it.
    "dir_roles": (
        """tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL, valid_from TEXT NOT NULL,
        valid_to TEXT, from_position BIGINT NOT NULL, to_position BIGINT""",
        "tenant_id, user_id, from_position",
        # "open": the current role interval in one step however many role changes came before (closing it).
        {"at": ("tenant_id, user_id, valid_from", None), "open": ("tenant_id, user_id", "valid_to IS NULL")},
    ),
    "dir_invitations": (
        """tenant_id TEXT NOT NULL, invitation_id TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
        status TEXT NOT NULL, invited_by TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
        token_hash TEXT NOT NULL, created_position BIGINT NOT NULL, ended_at TEXT, end_reason TEXT""",
        "tenant_id, invitation_id",
        {"order": ("tenant_id, created_position", None), "due": ("expires_at", "status = 'pending'")},
    ),
    "dir_tokens": (
        """token_hash TEXT NOT NULL, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, token_id TEXT NOT NULL,
        label TEXT, active INTEGER NOT NULL, issued_at TEXT NOT NULL, issued_position BIGINT NOT NULL,
        revoked_at TEXT""",
        "token_hash",
        {"id": ("tenant_id, token_id", None)},
    ),
    "dir_addons": (
        """tenant_id TEXT NOT NULL, addon_id TEXT NOT NULL, kind TEXT NOT NULL, seats INTEGER NOT NULL,
        monthly_price TEXT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, purchased_at TEXT NOT NULL,
        purchased_position BIGINT NOT NULL, ends_at TEXT, charged_through TEXT NOT NULL""",
        "tenant_id, addon_id",
        {"due": ("charged_through", "status <> 'ended'")},
    ),
    "dir_charges": (
        """tenant_id TEXT NOT NULL, charge_id TEXT NOT NULL, addon_id TEXT NOT NULL, kind TEXT NOT NULL,
        period_start TEXT NOT NULL, period_end TEXT NOT NULL, amount TEXT NOT NULL, currency TEXT NOT NULL,
        charged_at TEXT NOT NULL, position BIGINT NOT NULL""",
        "tenant_id, charge_id",
        {"order": ("tenant_id, position", None)},
    ),
    "dir_grants": (
        """tenant_id TEXT NOT NULL, grant_id TEXT NOT NULL, user_id TEXT NOT NULL, permission TEXT, role TEXT,
        scope TEXT NOT NULL, resource_type TEXT, resource_id TEXT, starts_at TEXT, started_position BIGINT,
        expires_at TEXT, granted_by TEXT NOT NULL,
        granted_at TEXT NOT NULL, granted_position BIGINT NOT NULL, status TEXT NOT NULL, ended_at TEXT,
        end_reason TEXT""",
        "tenant_id, grant_id",
        {
            "order": ("tenant_id, granted_position", None),
            "user": ("tenant_id, user_id, granted_position", None),
            "due": ("expires_at", "status = 'active'"),
            "starting": ("starts_at", "started_position IS NULL"),
        },
    ),
    # One row per interval a resource was assigned to one member (R-A1); scope `assigned` reads it (R-C1).
    "dir_assignments": (
        """tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, user_id TEXT NOT NULL,
        assigned_at TEXT NOT NULL, unassigned_at TEXT, from_position BIGINT NOT NULL, to_position BIGINT,
        unassign_reason TEXT""",
        "tenant_id, resource_type, resource_id, from_position",
        {
            "at": ("tenant_id, resource_type, resource_id, assigned_at", None),
            "user": ("tenant_id, user_id, resource_type, resource_id", None),
            # The open interval of a resource, found in one step however long its history (closing it on reassign).
            "open": ("tenant_id, resource_type, resource_id", "unassigned_at IS NULL"),
        },
    ),
    # One row per interval a custom role had one definition (R-P7); deletion closes the last one.
    "dir_role_defs": (
        """tenant_id TEXT NOT NULL, role_id TEXT NOT NULL, name TEXT NOT NULL, includes TEXT NOT NULL,
        permissions TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT, from_position BIGINT NOT NULL,
        to_position BIGINT, to_event TEXT""",
        "tenant_id, role_id, from_position",
        {"open": ("tenant_id, role_id", "valid_to IS NULL")},
    ),
    "dir_restrictions": (
        """tenant_id TEXT NOT NULL, restriction_id TEXT NOT NULL, user_id TEXT NOT NULL, permission TEXT NOT NULL,
        scope TEXT NOT NULL, resource_type TEXT, resource_id TEXT, created_by TEXT NOT NULL,
        created_at TEXT NOT NULL, created_position BIGINT NOT NULL, status TEXT NOT NULL, lifted_at TEXT,
        lifted_position BIGINT, lift_reason TEXT""",
        "tenant_id, restriction_id",
        {"order": ("tenant_id, created_position", None), "user": ("tenant_id, user_id, created_position", None)},
    ),
    # Closures (R-H1, R-H2), so no check walks a tree: one row per interval during which a member had one
    # reporting line and one chain of managers above it (`managers`, JSON, nearest first, the owner left out:
    # everyone is below the owner), or a resource had one parent and one chain of ancestors (`ancestors`).
    # Moving a node closes and reopens the rows of everything below it. No row: no line, no parent.
    "dir_reporting": (
        """tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, reports_to TEXT NOT NULL, managers TEXT NOT NULL,
        valid_from TEXT NOT NULL, valid_to TEXT, from_position BIGINT NOT NULL, to_position BIGINT""",
        "tenant_id, user_id, from_position",
        {
            "at": ("tenant_id, valid_from", None),
            "below": ("tenant_id, reports_to", "valid_to IS NULL"),
            # Who reports to a member at any instant, past rows too (R-C4 lookups walk a team down from its head).
            "reports": ("tenant_id, reports_to, valid_from", None),
        },
    ),
    "dir_parents": (
        """tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,
        parent_type TEXT NOT NULL, parent_id TEXT NOT NULL, ancestors TEXT NOT NULL, valid_from TEXT NOT NULL,
        valid_to TEXT, from_position BIGINT NOT NULL, to_position BIGINT""",
        "tenant_id, resource_type, resource_id, from_position",
        {
            "below": ("tenant_id, parent_type, parent_id", "valid_to IS NULL"),
            # What a grant covers below a resource at any point (projections.queries.below): past rows too.
            "children": ("tenant_id, parent_type, parent_id, from_position", None),
        },
    ),
    # Every resource the history names (R-C4 lookups), from the first event that did (projections.directory.known).
    "dir_resources": (
        """tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, known_at TEXT NOT NULL,
        known_position BIGINT NOT NULL""",
        "tenant_id, resource_type, resource_id",
        {},
    ),
}
