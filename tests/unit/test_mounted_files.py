"""Secrets and configs in replicas (pure): the files volume's layout, links, and names."""

import io
import tarfile

from crane_deployer.container_spec import replica_spec
from crane_deployer.mounted_files import COMPLETE_MARKER, MountedFile, files_volume, links_archive, volume_archive
from crane_deployer.naming import Naming
from crane_shared.appspec import AppRecord, AppSpec
from crane_shared.container_defaults import Limits

SECRET = MountedFile("/run/secrets/db_password", "f-" + "1" * 32, 0o400, 70, 70)
CONFIG = MountedFile("/etc/db.conf", "f-" + "2" * 32, 0o444, 0, 0)


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {m.name: m for m in archive.getmembers()}


def test_secrets_sit_in_the_volume_and_other_targets_link_into_it():
    volume = members(volume_archive([(SECRET, b"pw"), (CONFIG, b"max=1")]))
    assert volume["db_password"].mode == 0o400 and volume["db_password"].uid == 70
    linked = CONFIG.in_volume
    assert linked.startswith(".linked/") and linked.endswith("-db.conf") and linked in volume
    assert list(volume)[-1] == COMPLETE_MARKER  # written last: an interrupted fill is redone
    links = members(links_archive([SECRET, CONFIG]))
    assert links["etc/db.conf"].issym() and links["etc/db.conf"].linkname == f"/run/secrets/{linked}"
    assert "run/secrets/db_password" not in links
    assert links_archive([SECRET]) is None


def test_new_content_is_a_new_volume_and_replaces_the_replicas():
    assert files_volume("db", [SECRET]) == files_volume("db", [SECRET])
    renewed = MountedFile(SECRET.path, "f-" + "3" * 32, SECRET.mode, SECRET.uid, SECRET.gid)
    assert files_volume("db", [renewed]) != files_volume("db", [SECRET])

    def spec(secret_id):
        return AppSpec.model_validate(
            {"name": "a", "secrets": {"pw": secret_id}, "services": [{"name": "db", "image": "i", "secrets": ["pw"]}]}
        )

    old = AppRecord(id="a-1", owner="o", spec=spec("f-" + "1" * 32))
    new = AppRecord(id="a-1", owner="o", spec=spec("f-" + "3" * 32))
    before = replica_spec(old, old.spec.services[0], 0, Naming("s"), Limits())
    after = replica_spec(new, new.spec.services[0], 0, Naming("s"), Limits())
    assert before.volumes[before.files_volume] == {"bind": "/run/secrets", "mode": "ro"}
    assert before.files_volume != after.files_volume
    assert before.labels["crane.spec-hash"] != after.labels["crane.spec-hash"]
