"""`aidmap admin create`: the first admin, from the command line (admins grant the other roles:
aidmap/resolvers/roles.py)."""

from __future__ import annotations


def create_admin(*, url: str, phone: str, display_name: str, password: str, hash_profile: str) -> tuple[int, bool]:
    """Make the account with this phone an admin, creating it if needed; returns (id, created)."""
    from aidmap.db.connect import connect
    from aidmap.models import Role
    from aidmap.resolvers.accounts import password_hasher, password_problems
    from aidmap.resolvers.validation import normalise_phone

    normalised = normalise_phone(phone)
    if normalised is None:
        raise ValueError("Enter a phone number like 0912 345 678 or +84912345678.")
    with connect(url) as conn:
        row = conn.execute(
            "SELECT id FROM accounts WHERE phone = %(phone)s::text FOR UPDATE", {"phone": normalised}
        ).fetchone()
        if row is not None:
            conn.execute(
                "UPDATE accounts SET roles = array_append(roles, %(admin)s::text)"
                " WHERE id = %(id)s::bigint AND NOT %(admin)s::text = ANY(roles)",
                {"id": row[0], "admin": Role.ADMIN.value},
            )
            return int(row[0]), False
        problems = password_problems("The password", password, phone=normalised)
        if problems:
            raise ValueError(problems[0].message)
        if not display_name.strip():
            raise ValueError("Give the admin a display name (--name).")
        created = conn.execute(
            "INSERT INTO accounts (display_name, phone, password_hash, roles)"
            " VALUES (%(display_name)s::text, %(phone)s::text, %(password_hash)s::text, %(roles)s::text[])"
            " RETURNING id",
            {
                "display_name": display_name.strip(),
                "phone": normalised,
                "password_hash": password_hasher(hash_profile).hash(password),
                "roles": [Role.REQUESTER.value, Role.DONOR.value, Role.ADMIN.value],
            },
        ).fetchone()
        assert created is not None
        return int(created[0]), True
