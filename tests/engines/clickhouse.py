"""Serves the real ClickHouse HTTP interface on loopback from chDB (ClickHouse's engine
as a library): `python clickhouse.py DATA_DIR PORT`. Stays up until SIGTERM, whose default
action ends it (a Python handler would never run while the engine holds the thread).

Two users: `default` without a password, and `satisfy` with the password `PASSWORD` below,
for the tests of Satisfy's ClickHouse credentials."""

import os
import sys

import chdb._chdb as engine

PASSWORD = "satisfy-test-password"

USERS = f"""<clickhouse>
<users>
<default><password></password><networks><ip>127.0.0.1</ip></networks>
<profile>default</profile><quota>default</quota><access_management>1</access_management></default>
<satisfy><password>{PASSWORD}</password><networks><ip>127.0.0.1</ip></networks>
<profile>default</profile><quota>default</quota><access_management>1</access_management></satisfy>
</users>
<profiles><default/></profiles><quotas><default/></quotas>
</clickhouse>"""


def main() -> None:
    data_dir, port = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    os.makedirs(data_dir, exist_ok=True)
    # clickhouse-local reads config.xml from its working directory.
    with open(os.path.join(data_dir, "config.xml"), "w", encoding="utf-8") as config:
        config.write(
            "<clickhouse><listen_host>127.0.0.1</listen_host>"
            f"<http_port>{port}</http_port>"
            "<user_directories><users_xml><path>users.xml</path></users_xml></user_directories>"
            "</clickhouse>"
        )
    with open(os.path.join(data_dir, "users.xml"), "w", encoding="utf-8") as users:
        users.write(USERS)
    os.chdir(data_dir)
    # The listener serves while this query runs; it sleeps one row per second, for ever.
    engine.query(
        "SYSTEM START LISTEN HTTP; SELECT sleepEachRow(1) FROM numbers(1000000000) "
        "SETTINGS max_block_size = 1 FORMAT Null",
        "TabSeparated",
        path=os.path.join(data_dir, "db"),
    )


if __name__ == "__main__":
    main()
