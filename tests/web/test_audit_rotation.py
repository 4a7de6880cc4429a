"""The admin's audit page names an entry forged with a key file copied before a rotation."""

from __future__ import annotations

import shutil
from pathlib import Path

from flask.testing import FlaskClient

from tests.helpers import escrow
from tests.test_audit_keys import forge
from tests.web.conftest import World, sign_in


def test_the_audit_page_names_an_entry_forged_with_an_old_key_file(client: FlaskClient, world: World,
                                                                    archive_home: Path, tmp_path: Path) -> None:
    copy = tmp_path / "stolen.key"
    shutil.copyfile(archive_home / "master.key", copy)
    rotated = escrow(archive_home, "keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    sign_in(client, world.user_ids["admin"])  # (the rotation ended every session)
    assert "The chain verifies" in client.get("/admin/audit").get_data(as_text=True)

    forged = forge(archive_home, copy)
    page = client.get("/admin/audit").get_data(as_text=True)
    spanish = client.get("/admin/audit?lang=es").get_data(as_text=True)

    assert (f"The audit log does not verify: audit entry {forged} does not verify: it is signed with audit key "
            "version 1, which the log left for version 2, so whoever wrote it held an old key file") in page
    assert (f"El registro de auditoría no se verifica: la entrada de auditoría {forged} no se verifica: está "
            "firmada con la clave de auditoría versión 1") in spanish
