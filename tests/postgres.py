"""A throw-away PostgreSQL server for the test session, started from the machine's binaries."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import asyncpg


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def available() -> bool:
    return all(_binary(name) for name in ("initdb", "pg_ctl", "postgres"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """initdb + pg_ctl in a temporary directory; as root, the server runs as `postgres`.

    One server serves a whole test run: the pytest-xdist controller starts it and each worker
    attaches to it (`PostgresServer.attach(server.address)`), with databases of its own."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="cora-pg-"))
        self._as_postgres = os.geteuid() == 0

    @property
    def address(self) -> str:
        """What another process needs to attach to this server."""
        return f"{self.port}:{self.directory}"

    @classmethod
    def attach(cls, address: str) -> PostgresServer:
        """A server that another process started (and will stop)."""
        server = cls.__new__(cls)
        port, _, directory = address.partition(":")
        server.port, server.directory = int(port), Path(directory)
        server._as_postgres = os.geteuid() == 0
        return server

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if self._as_postgres:
            shutil.chown(self.directory, "postgres")
        data = str(self.directory / "data")
        self._run(
            str(_binary("initdb")),
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
            "-c max_connections=300"
        )
        self._run(
            str(_binary("pg_ctl")),
            "-D",
            data,
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "-l",
            str(self.directory / "server.log"),
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(
                str(_binary("pg_ctl")),
                "-D",
                str(self.directory / "data"),
                "-m",
                "immediate",
                "stop",
            )
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def create_database(self, name: str, template: str | None = None) -> str:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", database="postgres"
        )
        try:
            suffix = f' TEMPLATE "{template}"' if template else ""
            if template and int(await connection.fetchval("SHOW server_version_num")) >= 150000:
                # FILE_COPY copies the template's files instead of writing every page to the
                # WAL (the default since PostgreSQL 15): much less to write per test.
                suffix += " STRATEGY FILE_COPY"
            await connection.execute(f'CREATE DATABASE "{name}"{suffix}')
        finally:
            await connection.close()
        return self.url(name)
