"""The credentials the server accepts: access key -> (secret, account).

Given explicitly (``LAMBDAD_CREDENTIALS`` / ``--credential``) or, with none given,
created once into the data directory (``credentials.json``, mode 0600) and reused.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import tempfile
from pathlib import Path

from lambdad.model.credential import Credential

FILE_NAME = "credentials.json"


def parse(entries: tuple[str, ...] | list[str]) -> list[Credential]:
    out = []
    for entry in entries:
        for item in entry.split(","):
            item = item.strip()
            if not item:
                continue
            parts = item.split(":")
            if len(parts) != 3 or not parts[2].isdigit() or len(parts[2]) != 12:
                raise ValueError(
                    f"credential {item.split(':')[0]!r} must be AKID:SECRET:ACCOUNT with a "
                    "12-digit account id"
                )
            out.append(Credential(parts[0], parts[1], parts[2]))
    return out


def generate() -> Credential:
    alphabet = string.ascii_uppercase + string.digits
    akid = "LKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret = secrets.token_urlsafe(30)[:40]
    account = str(secrets.randbelow(9 * 10**11) + 10**11)
    return Credential(akid, secret, account)


def load_or_create(data_dir: Path) -> tuple[Credential, bool]:
    """The data directory's credential, and whether it was created just now.

    The file appears whole or not at all (written aside, then linked into place), so a
    reader never sees it half-written, and of two servers starting at once one wins.
    """
    path = data_dir / FILE_NAME
    existing = load(data_dir)
    if existing is not None:
        return existing, False
    cred = generate()
    data_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "access_key_id": cred.access_key_id,
        "secret_access_key": cred.secret_access_key,
        "account_id": cred.account_id,
    }
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".credentials-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError:
        loaded = load(data_dir)
        assert loaded is not None
        return loaded, False
    finally:
        os.unlink(tmp)
    return cred, True


def load(data_dir: Path) -> Credential | None:
    path = data_dir / FILE_NAME
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    return Credential(doc["access_key_id"], doc["secret_access_key"], doc["account_id"])
