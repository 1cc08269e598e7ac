"""PostgreSQL: the embedded server (pgserver) by default, or an existing one with --pg-url.

Security model (README, "Security"): every query, gold or generated, runs as the role
``sqlharness_reader``, which may only connect to the benchmark databases and SELECT from
their tables, inside a READ ONLY transaction that is always rolled back, with
``statement_timeout``, ``lock_timeout``, ``idle_in_transaction_session_timeout``,
``temp_file_limit`` and ``work_mem`` set. Rows are fetched through a server-side cursor in
chunks and the fetch stops past ``max_rows``, so a huge result never reaches memory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql as pgsql

from eval.db.base import Backend, ExecLimits, drain, fetched_result
from eval.errors import BadInput, DatabaseUnavailable
from eval.records import QueryResult
from eval.schemas import SchemaSource

log = logging.getLogger(__name__)

READER_ROLE = "sqlharness_reader"
READER_PASSWORD_ENV = "SQLHARNESS_READER_PASSWORD"
MARKER = "sqlharness build "
_FETCH_CHUNK = 5_000
# Functions a reader could use to disturb other sessions of the same role (our own pool).
_REVOKED_FUNCTIONS = (
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_notify",
    "pg_logical_emit_message",
    "dblink",
    "dblink_exec",
    "dblink_connect",
)


class ConnectionLost(Exception):
    """The server went away under a query; the backend recovers and retries once."""


# --------------------------------------------------------------------------- servers


class EmbeddedServer:
    """A PostgreSQL from the pgserver wheel, its data directory in the user's cache."""

    def __init__(self, cache_dir: Path) -> None:
        # pgserver's import warns when XDG_RUNTIME_DIR is unset (CI, containers): harmless.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        try:
            import pgserver
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise DatabaseUnavailable("the embedded server needs pgserver: pip install pgserver") from exc
        self._pgserver = pgserver
        self.pgdata = cache_dir / "pgdata"
        cache_dir.mkdir(parents=True, exist_ok=True)
        # A server this process already holds (a test session, an earlier run in the same
        # process) is left running on close; one we start, we stop.
        self._owned = self.pgdata.resolve() not in pgserver.PostgresServer._instances
        self._server = self._start()
        self.can_manage_roles = True
        self.reader_password: str | None = None

    def _start(self):
        try:
            return self._pgserver.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:  # pgserver raises subprocess errors of several kinds
            raise DatabaseUnavailable(
                f"cannot start the embedded PostgreSQL in {self.pgdata}: {exc}"
            ) from exc

    def params(self, db_name: str) -> dict[str, Any]:
        return dict(psycopg2.extensions.parse_dsn(self._server.get_uri(db_name)))

    def pid(self) -> int | None:
        return self._server.get_pid()

    def restart_if_down(self) -> bool:
        """Make sure the server answers, starting it again if its postmaster died.

        Returns True when it was restarted. Just after a crash the dying postmaster may
        still look alive, and its backends may hold shared memory for a moment: poll
        until a connection succeeds, for up to 20 seconds.
        """
        restarted = False
        deadline = time.monotonic() + 20
        while not self._answers():
            if time.monotonic() > deadline:
                raise DatabaseUnavailable(
                    "the embedded PostgreSQL stopped answering and could not be restarted"
                )
            if self._postmaster_alive():
                time.sleep(0.2)
                continue
            # A dead postmaster's pid file stops a new one from starting (a zombie's pid
            # still "exists"), and pgserver would take it for a running server.
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            try:
                with type(self._server)._lock:
                    self._server.ensure_postgres_running()
                restarted = True
            except Exception:  # pg_ctl fails in several ways while old backends linger
                time.sleep(0.5)
        return restarted

    def _answers(self) -> bool:
        try:
            psycopg2.connect(**self.params("postgres"), connect_timeout=2).close()
            return True
        except psycopg2.Error:
            return False

    def _postmaster_alive(self) -> bool:
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return False
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)  # reap it if the crashed postmaster was our child
        return _running(pid)

    def stop(self) -> None:
        if self._owned:
            with contextlib.suppress(Exception):
                forget_dead_handles(self.pgdata)
                self._server.cleanup()


def forget_dead_handles(pgdata: Path) -> None:
    """Drop the processes that no longer run from pgserver's list of the server's users.

    pgserver stops the server when the last process on that list lets go (``cleanup``). A
    process killed with SIGKILL never lets go, so its pid would keep the server running
    after everyone else has finished, and every later run would leave it running too.
    """
    import pgserver

    handles = pgdata / ".handle_pids.json"  # pgserver's DiskList
    if all(_running(pid) for pid in _read_pids(handles)):
        return  # the usual case, without waiting for the lock that every pgserver user shares
    with pgserver.PostgresServer._lock:
        pids = _read_pids(handles)
        alive = [pid for pid in pids if _running(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _read_pids(path: Path) -> list[int]:
    try:
        return list(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return []


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class ExternalServer:
    """An existing server reached with a URL; the harness touches only what it creates."""

    def __init__(self, url: str, cache_dir: Path) -> None:
        try:
            self._params: dict[str, Any] = dict(psycopg2.extensions.parse_dsn(url))
        except psycopg2.ProgrammingError as exc:
            raise BadInput(f"--pg-url is not a PostgreSQL URL: {exc}") from exc
        self._params.pop("dbname", None)
        self.can_manage_roles = False  # decided in PostgresBackend._setup_reader
        self.reader_password = _reader_password(cache_dir)

    def params(self, db_name: str) -> dict[str, Any]:
        return {**self._params, "dbname": db_name}

    def restart_if_down(self) -> bool:
        return False

    def stop(self) -> None:
        pass


def _reader_password(cache_dir: Path) -> str:
    """A per-machine secret for the reader role on an external server (file mode 0600)."""
    path = cache_dir / "reader_password"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(24))
    return path.read_text().strip()


# --------------------------------------------------------------------------- backend


@dataclass
class _PooledConnection:
    conn: psycopg2.extensions.connection
    epoch: int


class PostgresBackend(Backend):
    dialect = "postgres"

    def __init__(
        self,
        server: EmbeddedServer | ExternalServer,
        limits: ExecLimits = ExecLimits(),
        *,
        allow_writable_role: bool = False,
    ) -> None:
        self.server = server
        self.limits = limits
        self.allow_writable_role = allow_writable_role
        self.reader_user: str = READER_ROLE
        self._hashes: dict[str, str] = {}
        self._sources: dict[str, SchemaSource] = {}
        self._metadata: dict[str, str] = {}
        self._pools: dict[str, queue.LifoQueue[_PooledConnection]] = {}
        self._epoch = 0
        self._recover_lock = threading.Lock()
        self._pool_lock = threading.Lock()

    # ---------------------------------------------------------------- preparing databases

    def prepare(self, sources: Mapping[str, SchemaSource]) -> None:
        with self._admin("postgres") as admin:
            admin.autocommit = True
            with admin.cursor() as cur:
                # Two harness processes preparing at once must not both build a database.
                cur.execute("SELECT pg_advisory_lock(hashtext('sqlharness prepare'))")
                self._setup_reader(cur)
                for name, source in sources.items():
                    self._ensure_database(cur, source)
                    self._hashes[name] = source.content_hash
                    self._sources[name] = source
                cur.execute("SELECT pg_advisory_unlock(hashtext('sqlharness prepare'))")
        for name in sources:
            self._grant_reader(name)

    def _setup_reader(self, cur) -> None:
        cur.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        is_super, can_create_role = cur.fetchone()
        if not (is_super or can_create_role):
            self._use_own_role(cur)
            return
        self.server.can_manage_roles = True
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,))
        if cur.fetchone() is None:
            cur.execute(
                pgsql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION").format(
                    pgsql.Identifier(READER_ROLE)
                )
            )
        if self.server.reader_password is not None:
            cur.execute(
                pgsql.SQL("ALTER ROLE {} PASSWORD %s").format(pgsql.Identifier(READER_ROLE)),
                (self.server.reader_password,),
            )
        role = pgsql.Identifier(READER_ROLE)
        settings = {
            "statement_timeout": f"{int(self.limits.timeout_s * 1000)}",
            "lock_timeout": f"{int(self.limits.lock_timeout_s * 1000)}",
            "idle_in_transaction_session_timeout": f"{int(max(self.limits.timeout_s, 1) * 3000)}",
            "work_mem": self.limits.work_mem,
            "default_transaction_read_only": "on",
        }
        if is_super:
            # temp_file_limit can only be set by a superuser, and so cannot be lifted by the role.
            settings["temp_file_limit"] = self.limits.temp_file_limit
        for key, value in settings.items():
            cur.execute(pgsql.SQL("ALTER ROLE {} SET {} = %s").format(role, pgsql.Identifier(key)), (value,))

    def _use_own_role(self, cur) -> None:
        """No right to create the reader role: use one a DBA made, or the connecting role if allowed."""
        cur.execute("SELECT current_user")
        user = cur.fetchone()[0]
        cur.execute(
            "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = %s", (READER_ROLE,)
        )
        existing = cur.fetchone()
        if existing is not None and not existing[0]:
            # Created beforehand (README, Security); we grant it access to what we build.
            password = os.environ.get(READER_PASSWORD_ENV)
            if password is not None:
                self.server.reader_password = password
            return
        if not self.allow_writable_role:
            raise BadInput(
                f"role {user!r} cannot create the read-only role {READER_ROLE!r} (needs CREATEROLE), "
                "and generated SQL will not run through a role that can write. Have it created "
                f"(see README, Security; its password goes in {READER_PASSWORD_ENV}) "
                "or pass --allow-writable-role to accept the risk"
            )
        log.warning(
            "RUNNING GENERATED SQL AS %r, A ROLE THAT CAN WRITE: only READ ONLY transactions "
            "and rollbacks protect the databases",
            user,
        )
        self.reader_user = user

    def _ensure_database(self, cur, source: SchemaSource) -> None:
        name = source.db_name
        marker = MARKER + source.content_hash
        cur.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        )
        row = cur.fetchone()
        if row is not None and row[0] == marker:
            return
        if row is not None and not (row[0] or "").startswith(MARKER):
            raise BadInput(
                f"database {name!r} already exists on the server and was not created by the "
                "harness; it will not be touched. Drop or rename it, or use another server"
            )
        building = f"{name}__building"
        cur.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(building)))
        cur.execute(
            pgsql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                pgsql.Identifier(building)
            )
        )
        self._seed(building, source)
        if row is not None:
            cur.execute(pgsql.SQL("DROP DATABASE {} WITH (FORCE)").format(pgsql.Identifier(name)))
        cur.execute(
            pgsql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                pgsql.Identifier(building), pgsql.Identifier(name)
            )
        )
        cur.execute(pgsql.SQL("COMMENT ON DATABASE {} IS %s").format(pgsql.Identifier(name)), (marker,))

    def _seed(self, db_name: str, source: SchemaSource) -> None:
        with self._admin(db_name) as conn:
            for path, text in source.read():
                try:
                    with conn.cursor() as cur:
                        cur.execute(text)
                    conn.commit()
                except psycopg2.Error as exc:
                    conn.rollback()
                    raise BadInput(f"schema file {path} failed to load: {_pg_message(exc)}") from exc
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("ANALYZE")

    def _grant_reader(self, db_name: str) -> None:
        if self.reader_user != READER_ROLE:
            return
        role = pgsql.Identifier(READER_ROLE)
        with self._admin(db_name) as conn, conn.cursor() as cur:
            db = pgsql.Identifier(db_name)
            cur.execute(pgsql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
            cur.execute(pgsql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, role))
            cur.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' "
                "AND nspname <> 'information_schema'"
            )
            for (schema,) in cur.fetchall():
                s = pgsql.Identifier(schema)
                cur.execute(pgsql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(s))
                cur.execute(pgsql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, role))
                cur.execute(pgsql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(s, role))
            cur.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = ANY(%s)",
                (list(_REVOKED_FUNCTIONS),),
            )
            for (signature,) in cur.fetchall():
                cur.execute(
                    pgsql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(pgsql.SQL(signature))
                )
            conn.commit()

    def content_hash(self, db_name: str) -> str:
        return self._hashes.get(db_name, "")

    def derive_database(
        self,
        name: str,
        base: str,
        content_hash: str,
        build: Callable[[psycopg2.extensions.connection], None],
        *,
        accept: Sequence[str] = (),
    ) -> bool:
        """Make ``name`` a copy of the prepared database ``base`` rewritten by ``build``.

        Kept when its marker already says ``content_hash`` (or one of ``accept``); else
        built under a temporary name (from ``base`` as a template, or seeded again from
        ``base``'s files when the template is busy), ``build`` given an admin connection
        to it, then renamed into place, as :meth:`prepare` does. Returns True when built.
        """
        self._drop_pool(name)
        built = False
        with self._admin("postgres") as admin:
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(hashtext('sqlharness prepare'))")
                try:
                    marker = self._database_marker(cur, name)
                    in_use = next((h for h in (content_hash, *accept) if marker == MARKER + h), None)
                    if in_use is None:
                        self._build_derived(cur, name, base, content_hash, build, existing=marker is not None)
                        in_use, built = content_hash, True
                finally:
                    cur.execute("SELECT pg_advisory_unlock(hashtext('sqlharness prepare'))")
        self._grant_reader(name)
        self._hashes[name] = in_use
        if base in self._sources:
            self._sources[name] = self._sources[base]
        return built

    def _database_marker(self, cur, name: str) -> str | None:
        """The database's comment ('' when none), or None when it does not exist."""
        cur.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
        )
        row = cur.fetchone()
        if row is None:
            return None
        if not (row[0] or "").startswith(MARKER):
            raise BadInput(
                f"database {name!r} already exists on the server and was not created by the "
                "harness; it will not be touched. Drop or rename it, or use another server"
            )
        return row[0]

    def _build_derived(self, cur, name: str, base: str, content_hash: str, build, *, existing: bool) -> None:
        building = pgsql.Identifier(f"{name}__building")
        cur.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(building))
        self._drop_pool(base)  # our own idle readers would keep the template busy
        try:
            cur.execute(pgsql.SQL("CREATE DATABASE {} TEMPLATE {}").format(building, pgsql.Identifier(base)))
        except psycopg2.errors.ObjectInUse:
            # Someone else is connected to the base: seed a fresh copy from its files instead.
            cur.execute(pgsql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(building))
            self._seed(f"{name}__building", self._sources[base])
        with self._admin(f"{name}__building") as conn:
            with conn.cursor() as setup:
                # Durability of each commit is not needed: the rename below happens after
                # these commits in the WAL, so a crash can only lose the whole unrenamed build.
                setup.execute("SET synchronous_commit = off")
            build(conn)
            conn.commit()
            conn.autocommit = True
            with conn.cursor() as analyze:
                analyze.execute("ANALYZE")
        target = pgsql.Identifier(name)
        if existing:
            cur.execute(pgsql.SQL("DROP DATABASE {} WITH (FORCE)").format(target))
        cur.execute(pgsql.SQL("ALTER DATABASE {} RENAME TO {}").format(building, target))
        cur.execute(pgsql.SQL("COMMENT ON DATABASE {} IS %s").format(target), (MARKER + content_hash,))

    def _drop_pool(self, db_name: str) -> None:
        """Close the idle pooled connections to one database (before it is copied or replaced)."""
        with self._pool_lock:
            pool = self._pools.get(db_name)
        if pool is not None:
            _drain(pool)

    # ---------------------------------------------------------------- executing

    def execute(self, db_name: str, sql: str) -> QueryResult:
        try:
            return self._execute_once(db_name, sql)
        except ConnectionLost as first:
            self._recover()
            try:
                return self._execute_once(db_name, sql)
            except ConnectionLost as second:
                return QueryResult(error=f"connection lost twice: {first}; {second}")

    def _execute_once(self, db_name: str, sql: str) -> QueryResult:
        with self._connection(db_name) as conn:
            started = time.perf_counter()
            try:
                return _fetch_capped(conn, sql, self.limits.max_rows, started)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                if conn.closed or isinstance(exc, psycopg2.InterfaceError):
                    raise ConnectionLost(_pg_message(exc)) from exc
                return _error_result(exc, started)
            except psycopg2.Error as exc:
                return _error_result(exc, started)

    @contextlib.contextmanager
    def _connection(self, db_name: str) -> Iterator[psycopg2.extensions.connection]:
        pool = self._pool(db_name)
        try:
            pooled = pool.get_nowait()
        except queue.Empty:
            pooled = None
        if pooled is None or pooled.epoch != self._epoch or pooled.conn.closed:
            pooled = _PooledConnection(self._connect_reader(db_name), self._epoch)
        try:
            yield pooled.conn
        finally:
            if not pooled.conn.closed and pooled.epoch == self._epoch:
                pool.put(pooled)

    def _pool(self, db_name: str) -> queue.LifoQueue[_PooledConnection]:
        with self._pool_lock:
            return self._pools.setdefault(db_name, queue.LifoQueue())

    def _connect_reader(self, db_name: str) -> psycopg2.extensions.connection:
        params = self.server.params(db_name)
        if self.reader_user == READER_ROLE:
            params["user"] = READER_ROLE
            if self.server.reader_password is not None:
                params["password"] = self.server.reader_password
            else:
                params.pop("password", None)
        limits = self.limits
        options = (
            f"-c statement_timeout={int(limits.timeout_s * 1000)} "
            f"-c lock_timeout={int(limits.lock_timeout_s * 1000)} "
            f"-c idle_in_transaction_session_timeout={int(max(limits.timeout_s, 1) * 3000)} "
            f"-c work_mem={limits.work_mem} -c default_transaction_read_only=on"
        )
        try:
            conn = psycopg2.connect(**params, options=options, application_name="sqlharness")
        except psycopg2.OperationalError as exc:
            raise ConnectionLost(_pg_message(exc)) from exc
        conn.autocommit = True  # _fetch_capped sends its own BEGIN READ ONLY ... ROLLBACK
        return conn

    def _recover(self) -> None:
        """Restart a dead embedded server and drop every pooled connection (once per failure)."""
        epoch = self._epoch
        with self._recover_lock:
            if epoch != self._epoch:
                return  # another thread already recovered
            restarted = self.server.restart_if_down()
            log.warning("database connection lost%s; retrying", ", server restarted" if restarted else "")
            self._epoch += 1
            self._close_pooled()

    def _close_pooled(self) -> None:
        """Close every idle pooled connection (after a crash they are all dead)."""
        for pool in self._pools.values():
            _drain(pool)

    # ---------------------------------------------------------------- admin

    @contextlib.contextmanager
    def _admin(self, db_name: str) -> Iterator[psycopg2.extensions.connection]:
        try:
            conn = psycopg2.connect(**self.server.params(db_name), application_name="sqlharness-admin")
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {_pg_message(exc)}") from exc
        try:
            yield conn
        finally:
            conn.close()

    def admin_query(self, db_name: str, sql: str) -> list[tuple]:
        """Run trusted SQL as the administrator (metadata, checksums in tests)."""
        with self._admin(db_name) as conn, conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall() if cur.description else []
            conn.commit()
            return rows

    def engine_version(self) -> str:
        [(version,)] = self.admin_query("postgres", "SHOW server_version")
        return f"PostgreSQL {version}"

    def table_metadata(self, db_name: str) -> str:
        if db_name not in self._metadata:
            from eval.metadata import describe_tables, inline_comments

            source = self._sources.get(db_name)
            inline = inline_comments(source) if source else {}
            with self._admin(db_name) as conn:
                self._metadata[db_name] = describe_tables(conn, inline)
        return self._metadata[db_name]

    def close(self) -> None:
        self._close_pooled()
        self.server.stop()


def _fetch_capped(conn, sql: str, max_rows: int, started: float) -> QueryResult:
    """Run ``sql`` in a read-only transaction through a cursor, fetching at most ``max_rows`` + 1.

    The transaction, the cursor and the first chunk travel in one message (the connection
    is in autocommit mode, so nothing else is sent); the transaction is always rolled
    back. ``sql`` has been checked to be one query; it is embedded as text, exactly as
    psycopg2's server-side cursors embed it. The newline keeps a trailing ``--`` comment
    from swallowing the rest.
    """
    want = min(_FETCH_CHUNK, max_rows + 1)
    with conn.cursor() as cur:
        try:
            cur.execute(
                f"BEGIN READ ONLY;\nDECLARE sqlharness_q NO SCROLL CURSOR FOR\n{sql}\n;\n"
                f"FETCH FORWARD {want} FROM sqlharness_q"
            )
            columns = tuple(d[0] for d in cur.description or ())
            rows: list[tuple] = cur.fetchall()
            chunk = len(rows)
            while chunk == want and len(rows) <= max_rows:
                want = min(_FETCH_CHUNK, max_rows + 1 - len(rows))
                cur.execute(f"FETCH FORWARD {want} FROM sqlharness_q")
                more = cur.fetchall()
                rows.extend(more)
                chunk = len(more)
        finally:
            if not conn.closed:
                with contextlib.suppress(psycopg2.Error):
                    cur.execute("ROLLBACK")
    return fetched_result(columns, rows, max_rows, started)


def _error_result(exc: psycopg2.Error, started: float) -> QueryResult:
    timeout = isinstance(exc, psycopg2.errors.QueryCanceled)
    return QueryResult(error=_pg_message(exc), timeout=timeout, elapsed_s=time.perf_counter() - started)


def _pg_message(exc: Exception) -> str:
    text = (getattr(exc, "pgerror", None) or str(exc) or type(exc).__name__).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first.removeprefix("ERROR:").strip()


def _drain(pool: queue.Queue[_PooledConnection]) -> None:
    """Close every idle connection waiting in ``pool``."""
    for pooled in drain(pool):
        with contextlib.suppress(Exception):
            pooled.conn.close()
