"""`aidmap admin create`: the first admin, from the command line (admins grant the other roles:
aidmap/resolvers/roles.py)."""

from __future__ import annotations


def create_admin(*, url: str, phone: str, display_name: str, password: str, hash_profile: str) -> tuple[int, bool]:
    """Make the account with this phone an admin, creating it if needed; returns (id, created)."""
    from aidmap.db.connect import connect
    from aidmap.resolvers.accounts import password_hasher, password_problems
    from aidmap.resolvers.validation import normalise_phone

    normalised = normalise_phone(phone)
    if normalised is None:
        raise ValueError("Enter a phone number like 0912 345 678 or +84912345678.")
    with connect(url) as conn:
        row = conn.execute("SELECT id FROM accounts WHERE phone = %s FOR UPDATE", (normalised,)).fetchone()
        if row is not None:
            conn.execute(
                "UPDATE accounts SET roles = array_append(roles, 'ADMIN') WHERE id = %s AND NOT 'ADMIN' = ANY(roles)",
                (row[0],),
            )
            return int(row[0]), False
        problems = password_problems("The password", password, phone=normalised)
        if problems:
            raise ValueError(problems[0].message)
        if not display_name.strip():
            raise ValueError("Give the admin a display name (--name).")
        created = conn.execute(
            "INSERT INTO accounts (display_name, phone, password_hash, roles) VALUES (%s, %s, %s, %s) RETURNING id",
            (
                display_name.strip(),
                normalised,
                password_hasher(hash_profile).hash(password),
                ["REQUESTER", "DONOR", "ADMIN"],
            ),
        ).fetchone()
        assert created is not None
        return int(created[0]), True
