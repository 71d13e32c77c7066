"""The fleet takedown ledger: the state of privacy takedown jobs in one embedded SQLite file.

Everything a takedown job runner must remember between processes lives in one SQLite database
(standard library only), so that a killed process, a second process or a restart never loses,
repeats or corrupts a takedown: every state change is one ``BEGIN IMMEDIATE`` ... ``COMMIT``
transaction (WAL journal, ``synchronous=FULL``, a 30 s busy timeout), and records itself in an
append-only, hash-chained audit table inside that same transaction.

Schema (version :data:`SCHEMA_VERSION`)::

    meta(key TEXT PRIMARY KEY, value TEXT)
        schema_version, created_at, audit_head_seq, audit_head_sha256 (the last audit record,
        updated with every append, so that deleting the newest records is detected)
    requests(seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- submission order
             id TEXT UNIQUE, content TEXT (canonical JSON), content_sha256 TEXT,
             state TEXT ('pending' | 'published'), submitted_at REAL,
             run_id INTEGER -> runs.id (the run that published it), last_failure TEXT,
             redacted INTEGER (0 | 1, only once published))
    runs(id INTEGER PRIMARY KEY AUTOINCREMENT, request_ids TEXT (JSON list),
         input_version INTEGER -> models.version, work_dir TEXT,
         state TEXT ('running' | 'failed' | 'interrupted' | 'published'),
         started_at REAL, finished_at REAL, reason TEXT, output_version INTEGER -> models.version)
    models(version INTEGER PRIMARY KEY, checkpoint TEXT, checkpoint_sha256 TEXT,
           run_id INTEGER -> runs.id (NULL for the original), parent_version INTEGER -> models.version,
           created_at REAL)
    redaction_plans(request_id TEXT PRIMARY KEY -> requests.id, quarantine TEXT)
    redaction_files(request_id TEXT -> redaction_plans.request_id, position INTEGER, token TEXT,
                    path TEXT, sha256 TEXT, done INTEGER (0 | 1), PRIMARY KEY (request_id, path))
    audit(seq INTEGER PRIMARY KEY, kind TEXT, created_at REAL, payload TEXT (canonical JSON),
          prev_sha256 TEXT, sha256 TEXT)

State machine::

    request:  add_request -> pending --publish--> published --finish_redaction--> published, redacted
                             ^   |
                             +---+ fail_run / interrupt_run (stays pending, last_failure says why)
    run:      start_run -> running -> failed | interrupted | published     (each final)
    model:    add_original -> version 0;  publish -> version max + 1, parent = the run's input_version

A redaction is all-or-nothing per request and resumable: :meth:`Ledger.plan_redaction` stores the
files once (planning the same files again is a no-op), :meth:`Ledger.mark_file_redacted` ticks them
off one by one, :meth:`Ledger.finish_redaction` sets ``redacted`` once all are; the plan reads back
as a :class:`RedactionPlan` (:meth:`Ledger.redaction_plan`, or :meth:`Ledger.redaction_files` and
:meth:`Ledger.redaction_quarantine`).

Audit records (kind: payload) -- a caller's ``record`` is always nested under ``'record'``::

    submit:          request_id, content, content_sha256, submitted_at
    run-start:       run_id, request_ids, input_version, work_dir, started_at
    run-failed:      run_id, request_ids, reason, record
    run-interrupted: run_id, request_ids, reason
    publish:         run_id, request_ids, version, parent_version, checkpoint, checkpoint_sha256, record
    original:        version, checkpoint, checkpoint_sha256
    redact:          request_id, quarantine, record

Record ``n`` stores ``sha256 = audit_record_sha256(seq, kind, created_at, prev_sha256, payload)``
where ``prev_sha256`` is record ``n - 1``'s ``sha256`` (64 zeros for the first) and
``created_at`` is when the record was appended; :meth:`Ledger.verify_audit` recomputes the chain.

An existing file that is not an intact ledger of this schema (SQLite header, size,
``PRAGMA quick_check``, tables, ``schema_version``, all checked read-only) raises
:class:`LedgerError` at open and is never recreated or modified.

:class:`RunLock` (an ``fcntl.flock`` on ``<ledger>.lock``) keeps to one job runner at a time;
the OS releases it when its process dies, even by ``SIGKILL``.
"""
import contextlib
import dataclasses
import hashlib
import json
import os
import os.path as osp
import re
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..utils.lock import FileLock, LockHeld

SCHEMA_VERSION = 1
ZERO_SHA256 = '0' * 64
REQUEST_STATES = ('pending', 'published')
RUN_STATES = ('running', 'failed', 'interrupted', 'published')
TABLES = ('meta', 'models', 'runs', 'requests', 'redaction_plans', 'redaction_files', 'audit')
BUSY_TIMEOUT_S = 30.0

_SQLITE_MAGIC = b'SQLite format 3\x00'
_SHA256_RE = re.compile(r'[0-9a-f]{64}')
_SCHEMA = (
    'CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
    """CREATE TABLE models (
        version INTEGER PRIMARY KEY CHECK (version >= 0),
        checkpoint TEXT NOT NULL,
        checkpoint_sha256 TEXT NOT NULL,
        run_id INTEGER REFERENCES runs (id),
        parent_version INTEGER REFERENCES models (version),
        created_at REAL NOT NULL)""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_ids TEXT NOT NULL,
        input_version INTEGER NOT NULL REFERENCES models (version),
        work_dir TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('running', 'failed', 'interrupted', 'published')),
        started_at REAL NOT NULL,
        finished_at REAL,
        reason TEXT,
        output_version INTEGER REFERENCES models (version))""",
    """CREATE TABLE requests (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        content TEXT NOT NULL,
        content_sha256 TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'published')),
        submitted_at REAL NOT NULL,
        run_id INTEGER REFERENCES runs (id),
        last_failure TEXT,
        redacted INTEGER NOT NULL DEFAULT 0 CHECK (redacted IN (0, 1) AND (redacted = 0 OR state = 'published')))""",
    """CREATE TABLE redaction_plans (
        request_id TEXT PRIMARY KEY REFERENCES requests (id),
        quarantine TEXT)""",
    """CREATE TABLE redaction_files (
        request_id TEXT NOT NULL REFERENCES redaction_plans (request_id),
        position INTEGER NOT NULL,
        token TEXT NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
        PRIMARY KEY (request_id, path))""",
    """CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        created_at REAL NOT NULL,
        payload TEXT NOT NULL,
        prev_sha256 TEXT NOT NULL,
        sha256 TEXT NOT NULL)""",
)


class LedgerError(RuntimeError):
    """The ledger file is not usable: corrupted, truncated, not a ledger, or of another schema version."""


class LedgerLocked(LockHeld):
    """Another process holds the ledger's run lock (:class:`RunLock`); ``lock_path`` and
    ``holder_pid`` as :class:`ccu_av.utils.lock.LockHeld`."""


# --------------------------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class RequestRow:
    """A takedown request.

    Attributes:
        id: the request id.
        content: the caller's JSON-serialisable content (reason, requested_by, what to forget...).
        content_sha256: sha256 of the content's canonical JSON.
        state: 'pending' or 'published'.
        submitted_at: submission time (seconds since the epoch).
        run_id: the run that published it, None while pending.
        last_failure: why its last run failed or was interrupted; None when none did, or once published.
        redacted: whether its camera files were removed (:meth:`Ledger.finish_redaction`).
    """
    id: str
    content: Dict[str, Any]
    content_sha256: str
    state: str
    submitted_at: float
    run_id: Optional[int]
    last_failure: Optional[str]
    redacted: bool


@dataclass(frozen=True)
class RunRow:
    """One unlearning run over a set of pending requests.

    Attributes:
        id: the run id (increasing).
        request_ids: the requests it forgets.
        input_version: the model version it started from.
        work_dir: its work directory.
        state: 'running', 'failed', 'interrupted' or 'published'.
        started_at: start time; finished_at: end time (None while running).
        reason: why it failed or was interrupted (None otherwise).
        output_version: the model version it published (None unless published).
    """
    id: int
    request_ids: Tuple[str, ...]
    input_version: int
    work_dir: str
    state: str
    started_at: float
    finished_at: Optional[float]
    reason: Optional[str]
    output_version: Optional[int]


@dataclass(frozen=True)
class ModelRow:
    """A model version: the original (version 0) or one a run published.

    Attributes:
        version: the version number; checkpoint: its checkpoint path; checkpoint_sha256: its hash.
        run_id: the run that produced it (None for the original).
        parent_version: the version it was unlearned from (None for the original).
        created_at: when it was recorded.
    """
    version: int
    checkpoint: str
    checkpoint_sha256: str
    run_id: Optional[int]
    parent_version: Optional[int]
    created_at: float


@dataclass(frozen=True)
class RedactionFile:
    """A camera file of a redaction plan: its sample token, path, sha256 and whether it is removed."""
    token: str
    path: str
    sha256: str
    done: bool


@dataclass(frozen=True)
class RedactionPlan:
    """The files to remove for a published request (in plan order) and the quarantine folder (or None)."""
    request_id: str
    quarantine: Optional[str]
    files: Tuple[RedactionFile, ...]


@dataclass(frozen=True)
class AuditRecord:
    """One record of the audit chain (see :func:`audit_record_sha256`)."""
    seq: int
    kind: str
    created_at: float
    payload: Dict[str, Any]
    prev_sha256: str
    sha256: str


# ---------------------------------------------------------------------------------------- hashing


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON: sorted keys, no whitespace (what every hash here is taken of)."""
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def audit_record_sha256(seq: int, kind: str, created_at: float, prev_sha256: str, payload: Mapping) -> str:
    """The sha256 an audit record must carry, so that callers can verify exported copies of the chain.

    Args:
        seq: the record's sequence number (1 for the first).
        kind: its kind ('submit', 'run-start', ...).
        created_at: its creation time, as stored.
        prev_sha256: the previous record's sha256 (64 zeros for the first record).
        payload: its payload dict.

    Returns:
        sha256 hex digest of ``canonical_json(dict(seq, kind, created_at, prev_sha256, payload))``.
    """
    return _sha256_text(canonical_json(dict(seq=seq, kind=kind, created_at=created_at, prev_sha256=prev_sha256,
                                            payload=payload)))


def _check_sha256(value: str, what: str) -> None:
    if not isinstance(value, str) or not _SHA256_RE.fullmatch(value):
        raise ValueError(f'{what} must be a sha256 hex digest (64 lowercase hex characters), got {value!r}')


# ----------------------------------------------------------------------------------- file checks


def _not_a_ledger(path: str, detail: str) -> LedgerError:
    return LedgerError(f'{path} is not a valid ccu_av takedown ledger: {detail}. An existing ledger file is never '
                       'silently recreated: restore it from a backup, or point the config at another ledger path.')


def _is_corruption(error: sqlite3.DatabaseError) -> bool:
    """Whether ``error`` says the database file is damaged or not a database (not a busy or SQL error)."""
    name = getattr(error, 'sqlite_errorname', '') or ''
    return type(error) is sqlite3.DatabaseError or name.startswith(('SQLITE_CORRUPT', 'SQLITE_NOTADB'))


def _check_file_header(path: str) -> None:
    """Raise :class:`LedgerError` for a file that is empty, not SQLite, or shorter than its header says."""
    if osp.isdir(path):
        raise _not_a_ledger(path, 'it is a directory')
    size = osp.getsize(path)
    if size == 0:
        raise _not_a_ledger(path, 'the file is empty (0 bytes)')
    with open(path, 'rb') as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise _not_a_ledger(path, f'it does not start with the SQLite header ({size} bytes, not an SQLite database)')
    page_size = int.from_bytes(header[16:18], 'big')
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(header[28:32], 'big')
    count_valid = page_count > 0 and header[24:28] == header[92:96]
    wal = f'{path}-wal'
    wal_has_frames = osp.exists(wal) and osp.getsize(wal) > 0
    if count_valid and not wal_has_frames and size < page_count * page_size:
        raise _not_a_ledger(path, f'it is truncated: its header says {page_count} pages of {page_size} bytes '
                                  f'({page_count * page_size} bytes), the file has {size} bytes')


def _read_only_uri(path: str) -> str:
    return 'file:' + urllib.parse.quote(osp.abspath(path)) + '?mode=ro'


def _check_ledger_contents(path: str) -> None:
    """Raise :class:`LedgerError` unless ``path`` (an existing SQLite file) is an intact ledger; reads only."""
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as error:
        raise _not_a_ledger(path, f'SQLite cannot open it ({error})') from error
    try:
        verdict = [row[0] for row in conn.execute('PRAGMA quick_check').fetchall()]
        if verdict != ['ok']:
            raise _not_a_ledger(path, f'PRAGMA quick_check reports damage: {"; ".join(map(str, verdict[:5]))}')
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if 'meta' not in tables:
            raise _not_a_ledger(path, f'it has no meta table (another SQLite database? its tables: {sorted(tables)})')
        meta = dict(conn.execute('SELECT key, value FROM meta').fetchall())
        missing = [name for name in TABLES if name not in tables]
        if missing:
            raise _not_a_ledger(path, f'it lacks the ledger tables {missing}')
        if meta.get('schema_version') != str(SCHEMA_VERSION):
            raise _not_a_ledger(path, f'its schema_version is {meta.get("schema_version")!r}, this code reads '
                                      f'schema version {SCHEMA_VERSION}')
        absent = [key for key in ('created_at', 'audit_head_seq', 'audit_head_sha256') if key not in meta]
        if absent:
            raise _not_a_ledger(path, f'its meta table lacks {absent}')
    except sqlite3.DatabaseError as error:
        raise _not_a_ledger(path, f'SQLite cannot read it ({error})') from error
    finally:
        conn.close()


def _create_ledger_file(path: str) -> None:
    """Create an empty ledger at ``path`` atomically: written to a temporary file, then hard-linked into place.

    A concurrent creator that wins the race leaves its ledger in place; this one is then discarded.
    """
    parent = osp.dirname(osp.abspath(path))
    os.makedirs(parent, exist_ok=True)
    temporary = f'{path}.creating-{os.getpid()}-{time.monotonic_ns()}'
    try:
        conn = sqlite3.connect(temporary, isolation_level=None)
        try:
            conn.execute('PRAGMA journal_mode=WAL')
            conn.execute('PRAGMA synchronous=FULL')
            conn.execute('BEGIN IMMEDIATE')
            for statement in _SCHEMA:
                conn.execute(statement)
            meta = dict(schema_version=str(SCHEMA_VERSION), created_at=repr(time.time()), audit_head_seq='0',
                        audit_head_sha256=ZERO_SHA256)
            conn.executemany('INSERT INTO meta (key, value) VALUES (?, ?)', sorted(meta.items()))
            conn.execute('COMMIT')
        finally:
            conn.close()  # the last connection checkpoints the WAL into the file
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
        dir_fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        for leftover in (temporary, f'{temporary}-wal', f'{temporary}-shm'):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


# ------------------------------------------------------------------------------------------ ledger


class Ledger:
    """The takedown ledger at ``path``, created with the schema if absent (see the module docstring).

    Args:
        path: the ledger file. If it does not exist it is created (with its parent folders); if it
            exists it must be an intact ledger of this schema version.

    Raises:
        LedgerError: ``path`` exists but is not an intact ledger (it is left untouched).

    Use as ``with Ledger(path) as ledger: ...`` or call :meth:`close`. A ``Ledger`` belongs to the
    thread that opened it; other threads and processes open their own.
    """

    def __init__(self, path: str) -> None:
        self.path = str(path)
        if not osp.exists(self.path):
            _create_ledger_file(self.path)
        _check_file_header(self.path)
        _check_ledger_contents(self.path)
        self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._execute(f'PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}')
        self._execute('PRAGMA journal_mode=WAL')
        self._execute('PRAGMA synchronous=FULL')
        self._execute('PRAGMA foreign_keys=ON')

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> 'Ledger':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'Ledger({self.path!r})'

    # ----------------------------------------------------------------------------- plumbing

    def _execute(self, sql: str, params: Sequence = ()) -> List[sqlite3.Row]:
        """Run one statement and fetch its rows; a damaged file raises :class:`LedgerError`."""
        if self._conn is None:
            raise LedgerError(f'the ledger {self.path} is closed')
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as error:
            if _is_corruption(error):
                raise _not_a_ledger(self.path, f'SQLite reports damage ({error})') from error
            raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), rolled back on any exception."""
        self._execute('BEGIN IMMEDIATE')
        try:
            yield
            self._execute('COMMIT')
        except BaseException:
            if self._conn is not None and self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute('ROLLBACK')
            raise

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        """A read transaction (or the enclosing transaction): the queries inside see one consistent state."""
        if self._conn is not None and self._conn.in_transaction:
            yield
            return
        self._execute('BEGIN')
        try:
            yield
        finally:
            if self._conn is not None and self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute('COMMIT')

    def _meta(self, key: str) -> str:
        rows = self._execute('SELECT value FROM meta WHERE key = ?', (key,))
        if not rows:
            raise _not_a_ledger(self.path, f'its meta table lacks {key!r}')
        return rows[0]['value']

    def _set_meta(self, key: str, value: str) -> None:
        self._execute('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', (key, value))

    def _append_audit(self, kind: str, payload: Mapping) -> AuditRecord:
        """Append an audit record chained to the head in ``meta``; call inside :meth:`_transaction`."""
        head_seq, head_sha = int(self._meta('audit_head_seq')), self._meta('audit_head_sha256')
        last = self._execute('SELECT MAX(seq) AS seq FROM audit')[0]['seq'] or 0
        if last > head_seq:
            raise _not_a_ledger(self.path, f'the audit head in meta (seq {head_seq}) is behind the audit table '
                                           f'(seq {last}): the file was modified outside this code')
        payload_text = canonical_json(dict(payload))
        record = AuditRecord(seq=head_seq + 1, kind=kind, created_at=time.time(), payload=json.loads(payload_text),
                             prev_sha256=head_sha, sha256='')
        sha = audit_record_sha256(record.seq, kind, record.created_at, head_sha, record.payload)
        self._execute('INSERT INTO audit (seq, kind, created_at, payload, prev_sha256, sha256) '
                      'VALUES (?, ?, ?, ?, ?, ?)', (record.seq, kind, record.created_at, payload_text, head_sha, sha))
        self._set_meta('audit_head_seq', str(record.seq))
        self._set_meta('audit_head_sha256', sha)
        return dataclasses.replace(record, sha256=sha)

    @staticmethod
    def _check_state(state: Optional[str], states: Sequence[str], what: str) -> None:
        if state is not None and state not in states:
            raise ValueError(f'unknown {what} state {state!r}; the states are {list(states)}')

    # ----------------------------------------------------------------------------- requests

    def add_request(self, request_id: str, content: Mapping, submitted_at: Optional[float] = None) -> bool:
        """Submit a request as 'pending' (and an audit record 'submit'), in one transaction.

        Args:
            request_id: a non-empty id.
            content: the request's JSON-serialisable dict, stored as given.
            submitted_at: submission time, default now.

        Returns:
            True if added; False if the id exists with identical content (nothing changes).

        Raises:
            ValueError: the id exists with different content (a changed request needs a new id).
            TypeError: ``content`` is not a JSON-serialisable dict.
        """
        if not isinstance(request_id, str) or not request_id:
            raise ValueError(f'a request id must be a non-empty string, got {request_id!r}')
        text = self._content_json(request_id, content)
        sha = _sha256_text(text)
        submitted_at = time.time() if submitted_at is None else float(submitted_at)
        with self._transaction():
            rows = self._execute('SELECT content_sha256 FROM requests WHERE id = ?', (request_id,))
            if rows:
                if rows[0]['content_sha256'] == sha:
                    return False
                raise ValueError(f'request {request_id!r} already exists with different content (sha256 '
                                 f'{rows[0]["content_sha256"]}, the new content has {sha}); a changed request '
                                 'needs a new id')
            self._execute('INSERT INTO requests (id, content, content_sha256, state, submitted_at) '
                          "VALUES (?, ?, ?, 'pending', ?)", (request_id, text, sha, submitted_at))
            self._append_audit('submit', dict(request_id=request_id, content=json.loads(text), content_sha256=sha,
                                              submitted_at=submitted_at))
        return True

    @staticmethod
    def _content_json(request_id: str, content: Mapping) -> str:
        if not isinstance(content, Mapping):
            raise TypeError(f'the content of request {request_id!r} must be a dict, got {type(content).__name__}')
        try:
            return canonical_json(dict(content))
        except (TypeError, ValueError) as error:
            raise TypeError(f'the content of request {request_id!r} is not JSON-serialisable: {error}') from error

    def request(self, request_id: str) -> Optional[RequestRow]:
        """The request ``request_id``, or None."""
        rows = self._execute('SELECT * FROM requests WHERE id = ?', (request_id,))
        return _request_row(rows[0]) if rows else None

    def requests(self, state: Optional[str] = None) -> List[RequestRow]:
        """The requests (those in ``state`` when given), in submission (insertion) order."""
        self._check_state(state, REQUEST_STATES, 'request')
        if state is None:
            rows = self._execute('SELECT * FROM requests ORDER BY seq')
        else:
            rows = self._execute('SELECT * FROM requests WHERE state = ? ORDER BY seq', (state,))
        return [_request_row(row) for row in rows]

    # --------------------------------------------------------------------------------- runs

    def start_run(self, request_ids: Sequence[str], input_version: int, work_dir: str,
                  started_at: Optional[float] = None) -> int:
        """Start a run over pending requests (audit record 'run-start'); returns the run id.

        Args:
            request_ids: the requests to forget: existing, 'pending', not in another running run.
            input_version: the existing model version the run unlearns from.
            work_dir: the run's work directory.
            started_at: start time, default now.

        Raises:
            ValueError: no ids, duplicate ids, ids that are unknown / not pending / already in a
                running run, or an unknown ``input_version``.
        """
        ids = self._run_ids(request_ids)
        started_at = time.time() if started_at is None else float(started_at)
        with self._transaction():
            self._check_startable(ids)
            if not self._execute('SELECT 1 FROM models WHERE version = ?', (int(input_version),)):
                raise ValueError(f'cannot start a run from model version {input_version}: the ledger has no such '
                                 f'version (its versions: {[m.version for m in self.models()]})')
            self._execute("INSERT INTO runs (request_ids, input_version, work_dir, state, started_at) "
                          "VALUES (?, ?, ?, 'running', ?)",
                          (json.dumps(list(ids)), int(input_version), str(work_dir), started_at))
            run_id = self._execute('SELECT last_insert_rowid() AS id')[0]['id']
            self._append_audit('run-start', dict(run_id=run_id, request_ids=list(ids), input_version=int(input_version),
                                                 work_dir=str(work_dir), started_at=started_at))
        return run_id

    @staticmethod
    def _run_ids(request_ids: Sequence[str]) -> Tuple[str, ...]:
        if isinstance(request_ids, str):
            raise TypeError(f'request_ids must be a sequence of ids, got the string {request_ids!r}')
        ids = tuple(request_ids)
        if not ids:
            raise ValueError('a run needs at least one request id')
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f'request ids {duplicates} appear more than once in the run')
        return ids

    def _check_startable(self, ids: Sequence[str]) -> None:
        busy = {}
        for run in self.runs('running'):
            busy.update({request_id: run.id for request_id in run.request_ids})
        problems = []
        for request_id in ids:
            row = self.request(request_id)
            if row is None:
                problems.append(f'{request_id!r} (no such request)')
            elif row.state != 'pending':
                problems.append(f'{request_id!r} ({row.state}, by run {row.run_id})')
            elif request_id in busy:
                problems.append(f'{request_id!r} (already in running run {busy[request_id]}; interrupt it first)')
        if problems:
            raise ValueError(f'cannot start a run: requests must exist and be pending, but: {", ".join(problems)}')

    def run(self, run_id: int) -> Optional[RunRow]:
        """The run ``run_id``, or None."""
        rows = self._execute('SELECT * FROM runs WHERE id = ?', (int(run_id),))
        return _run_row(rows[0]) if rows else None

    def runs(self, state: Optional[str] = None) -> List[RunRow]:
        """The runs (those in ``state`` when given), oldest first."""
        self._check_state(state, RUN_STATES, 'run')
        if state is None:
            return [_run_row(row) for row in self._execute('SELECT * FROM runs ORDER BY id')]
        return [_run_row(row) for row in self._execute('SELECT * FROM runs WHERE state = ? ORDER BY id', (state,))]

    def _running_run(self, run_id: int, action: str) -> RunRow:
        run = self.run(run_id)
        if run is None:
            raise ValueError(f'cannot {action} run {run_id}: the ledger has no such run')
        if run.state != 'running':
            raise ValueError(f'cannot {action} run {run_id}: it is {run.state}, expected running')
        return run

    def _end_run(self, run: RunRow, state: str, reason: str) -> None:
        """Mark a running run failed / interrupted and record ``reason`` on its (pending) requests."""
        self._execute('UPDATE runs SET state = ?, reason = ?, finished_at = ? WHERE id = ?',
                      (state, str(reason), time.time(), run.id))
        marks = ','.join('?' * len(run.request_ids))
        self._execute(f"UPDATE requests SET last_failure = ? WHERE state = 'pending' AND id IN ({marks})",
                      (str(reason), *run.request_ids))

    def fail_run(self, run_id: int, reason: str, record: Mapping) -> None:
        """A running run failed (e.g. its model did not pass the gate): run 'failed', its requests stay
        'pending' with ``last_failure = reason``; audit record 'run-failed' holding ``record``.

        Raises:
            ValueError: no such run, or it is not running.
        """
        with self._transaction():
            run = self._running_run(run_id, 'fail')
            self._end_run(run, 'failed', reason)
            self._append_audit('run-failed', dict(run_id=run.id, request_ids=list(run.request_ids), reason=str(reason),
                                                  record=dict(record)))

    def interrupt_run(self, run_id: int, reason: str) -> None:
        """A run left 'running' by a dead process: run 'interrupted', requests keep 'pending' with
        ``last_failure = reason``; audit record 'run-interrupted'.

        Raises:
            ValueError: no such run, or it is not running.
        """
        with self._transaction():
            run = self._running_run(run_id, 'interrupt')
            self._end_run(run, 'interrupted', reason)
            self._append_audit('run-interrupted', dict(run_id=run.id, request_ids=list(run.request_ids),
                                                       reason=str(reason)))

    def publish(self, run_id: int, checkpoint: str, checkpoint_sha256: str, record: Mapping,
                created_at: Optional[float] = None) -> int:
        """Publish a running run's model, in one transaction: a new model version (max + 1, parent the
        run's input version), the run's requests 'published' by it, the run 'published', and an audit
        record 'publish' holding ``record``.

        Args:
            run_id: a running run.
            checkpoint: the published checkpoint's path; checkpoint_sha256: its sha256 hex digest.
            record: the caller's audit payload (metrics, gate verdict...).
            created_at: the model's creation time, default now (also the run's finished_at).

        Returns:
            The new model version.

        Raises:
            ValueError: no such run, it is not running, one of its requests is no longer pending, or
                ``checkpoint_sha256`` is not a sha256 hex digest.
        """
        _check_sha256(checkpoint_sha256, f'the checkpoint sha256 of run {run_id}')
        created_at = time.time() if created_at is None else float(created_at)
        with self._transaction():
            run = self._running_run(run_id, 'publish')
            not_pending = [r.id for r in map(self.request, run.request_ids) if r is None or r.state != 'pending']
            if not_pending:
                raise ValueError(f'cannot publish run {run.id}: its requests {not_pending} are no longer pending')
            version = self._execute('SELECT MAX(version) AS v FROM models')[0]['v'] + 1
            self._execute('INSERT INTO models (version, checkpoint, checkpoint_sha256, run_id, parent_version, '
                          'created_at) VALUES (?, ?, ?, ?, ?, ?)',
                          (version, str(checkpoint), checkpoint_sha256, run.id, run.input_version, created_at))
            marks = ','.join('?' * len(run.request_ids))
            self._execute(f"UPDATE requests SET state = 'published', run_id = ?, last_failure = NULL "
                          f'WHERE id IN ({marks})', (run.id, *run.request_ids))
            self._execute("UPDATE runs SET state = 'published', output_version = ?, finished_at = ? WHERE id = ?",
                          (version, created_at, run.id))
            self._append_audit('publish', dict(run_id=run.id, request_ids=list(run.request_ids), version=version,
                                               parent_version=run.input_version, checkpoint=str(checkpoint),
                                               checkpoint_sha256=checkpoint_sha256, record=dict(record)))
        return version

    # ------------------------------------------------------------------------------- models

    def add_original(self, checkpoint: str, checkpoint_sha256: str, created_at: Optional[float] = None) -> int:
        """Record the original model as version 0 (audit record 'original'); returns 0.

        Recording it again with the same sha256 changes nothing.

        Raises:
            ValueError: version 0 exists with another sha256, or ``checkpoint_sha256`` is malformed.
        """
        _check_sha256(checkpoint_sha256, 'the original checkpoint sha256')
        created_at = time.time() if created_at is None else float(created_at)
        with self._transaction():
            rows = self._execute('SELECT checkpoint, checkpoint_sha256 FROM models WHERE version = 0')
            if rows:
                if rows[0]['checkpoint_sha256'] == checkpoint_sha256:
                    return 0
                raise ValueError(f'the ledger {self.path} already has an original model (version 0: '
                                 f'{rows[0]["checkpoint"]}, sha256 {rows[0]["checkpoint_sha256"]}); refusing '
                                 f'{checkpoint} with sha256 {checkpoint_sha256}')
            if self._execute('SELECT 1 FROM models LIMIT 1'):
                raise ValueError(f'the ledger {self.path} has models but no version 0; cannot add an original')
            self._execute('INSERT INTO models (version, checkpoint, checkpoint_sha256, run_id, parent_version, '
                          'created_at) VALUES (0, ?, ?, NULL, NULL, ?)', (str(checkpoint), checkpoint_sha256,
                                                                          created_at))
            self._append_audit('original', dict(version=0, checkpoint=str(checkpoint),
                                                checkpoint_sha256=checkpoint_sha256))
        return 0

    def models(self) -> List[ModelRow]:
        """The model versions, ascending."""
        return [_model_row(row) for row in self._execute('SELECT * FROM models ORDER BY version')]

    def current_model(self) -> Optional[ModelRow]:
        """The highest model version, or None when there is none."""
        rows = self._execute('SELECT * FROM models ORDER BY version DESC LIMIT 1')
        return _model_row(rows[0]) if rows else None

    # ---------------------------------------------------------------------------- redaction

    def plan_redaction(self, request_id: str, files: Sequence[Tuple[str, str, str]],
                       quarantine: Optional[str]) -> None:
        """Record the camera files to remove for a published request (all ``done = False``).

        Planning the identical plan again is a no-op, so an interrupted redaction resumes.

        Args:
            request_id: a published, not yet redacted request.
            files: (sample_token, path, sha256) of each file; paths unique.
            quarantine: the folder files are moved to, or None when they are deleted.

        Raises:
            ValueError: the request is unknown, not published or already redacted; duplicate paths;
                or a different plan exists for it.
        """
        planned = tuple(RedactionFile(str(token), str(path), str(sha), False) for token, path, sha in files)
        duplicates = sorted({f.path for f in planned if sum(g.path == f.path for g in planned) > 1})
        if duplicates:
            raise ValueError(f'redaction plan of request {request_id!r} lists the paths {duplicates} more than once')
        with self._transaction():
            self._check_redactable(request_id)
            existing = self.redaction_plan(request_id)
            if existing is not None:
                self._check_same_plan(existing, planned, quarantine)
                return
            self._execute('INSERT INTO redaction_plans (request_id, quarantine) VALUES (?, ?)',
                          (request_id, quarantine))
            for position, f in enumerate(planned):
                self._execute('INSERT INTO redaction_files (request_id, position, token, path, sha256, done) '
                              'VALUES (?, ?, ?, ?, ?, 0)', (request_id, position, f.token, f.path, f.sha256))

    def _check_redactable(self, request_id: str) -> RequestRow:
        row = self.request(request_id)
        if row is None:
            raise ValueError(f'cannot redact request {request_id!r}: the ledger has no such request')
        if row.state != 'published' or row.redacted:
            state = 'published and already redacted' if row.redacted else row.state
            raise ValueError(f'cannot redact request {request_id!r}: it is {state}, expected published and not '
                             'redacted')
        return row

    @staticmethod
    def _check_same_plan(existing: RedactionPlan, planned: Sequence[RedactionFile], quarantine: Optional[str]) -> None:
        def key(files: Sequence[RedactionFile]) -> list:
            return sorted((f.token, f.path, f.sha256) for f in files)

        if existing.quarantine != quarantine or key(existing.files) != key(planned):
            raise ValueError(f'request {existing.request_id!r} already has a different redaction plan '
                             f'({len(existing.files)} files, quarantine {existing.quarantine!r}; the new plan has '
                             f'{len(planned)} files, quarantine {quarantine!r}); resume with the same plan')

    def redaction_plan(self, request_id: str) -> Optional[RedactionPlan]:
        """The redaction plan of ``request_id`` (files in plan order), or None when there is none."""
        with self._snapshot():
            plans = self._execute('SELECT quarantine FROM redaction_plans WHERE request_id = ?', (request_id,))
            rows = self._execute('SELECT token, path, sha256, done FROM redaction_files WHERE request_id = ? '
                                 'ORDER BY position', (request_id,))
        if not plans:
            return None
        files = tuple(RedactionFile(r['token'], r['path'], r['sha256'], bool(r['done'])) for r in rows)
        return RedactionPlan(request_id, plans[0]['quarantine'], files)

    def redaction_files(self, request_id: str) -> List[RedactionFile]:
        """The planned files of ``request_id`` in plan order (empty when it has no plan)."""
        plan = self.redaction_plan(request_id)
        return list(plan.files) if plan else []

    def redaction_quarantine(self, request_id: str) -> Optional[str]:
        """The quarantine folder of the plan of ``request_id`` (None when it deletes, or has no plan)."""
        plan = self.redaction_plan(request_id)
        return plan.quarantine if plan else None

    def mark_file_redacted(self, request_id: str, path: str) -> None:
        """Record that the planned file ``path`` of ``request_id`` was removed (idempotent).

        Raises:
            ValueError: the request's plan has no such file, or the request is already redacted.
        """
        with self._transaction():
            self._check_redactable(request_id)
            rows = self._execute('SELECT done FROM redaction_files WHERE request_id = ? AND path = ?',
                                 (request_id, str(path)))
            if not rows:
                raise ValueError(f'the redaction plan of request {request_id!r} has no file {path}')
            self._execute('UPDATE redaction_files SET done = 1 WHERE request_id = ? AND path = ?',
                          (request_id, str(path)))

    def finish_redaction(self, request_id: str, record: Mapping) -> None:
        """Mark ``request_id`` redacted once all its planned files are; audit record 'redact' with ``record``.

        Raises:
            ValueError: no plan, files not yet removed (how many, which), or not published / already redacted.
        """
        with self._transaction():
            self._check_redactable(request_id)
            plan = self.redaction_plan(request_id)
            if plan is None:
                raise ValueError(f'cannot finish the redaction of request {request_id!r}: it has no redaction plan')
            left = [f.path for f in plan.files if not f.done]
            if left:
                raise ValueError(f'cannot finish the redaction of request {request_id!r}: {len(left)} of '
                                 f'{len(plan.files)} files are not redacted yet (e.g. {left[:3]})')
            self._execute('UPDATE requests SET redacted = 1 WHERE id = ?', (request_id,))
            self._append_audit('redact', dict(request_id=request_id, quarantine=plan.quarantine, record=dict(record)))

    # -------------------------------------------------------------------------------- audit

    def audit_records(self) -> List[AuditRecord]:
        """The audit chain, by seq."""
        return [_audit_row(row) for row in self._execute('SELECT * FROM audit ORDER BY seq')]

    def head(self) -> Optional[AuditRecord]:
        """The newest audit record, or None when there is none."""
        rows = self._execute('SELECT * FROM audit ORDER BY seq DESC LIMIT 1')
        return _audit_row(rows[0]) if rows else None

    def verify_audit(self) -> List[str]:
        """Recompute the audit chain; returns its problems (empty when intact), each naming the record.

        Detects a record whose content no longer matches its hash ('changed'), a seq gap or a
        prev_sha256 that is not the previous record's sha256 ('missing or reordered'), and newest
        records deleted (the head stored in ``meta`` is not the last record).
        """
        with self._snapshot():
            rows = self._execute('SELECT * FROM audit ORDER BY seq')
            head_seq, head_sha = int(self._meta('audit_head_seq')), self._meta('audit_head_sha256')
        problems, prev_seq, prev_sha = [], 0, ZERO_SHA256
        for row in rows:
            problems.extend(_record_problems(row, prev_seq, prev_sha))
            prev_seq, prev_sha = row['seq'], row['sha256']
        if (prev_seq, prev_sha) != (head_seq, head_sha):
            last = f'seq {prev_seq} (kind {rows[-1]["kind"]})' if rows else 'none'
            problems.append(f'audit head mismatch: meta records the head as seq {head_seq} (sha256 {head_sha}) but '
                            f'the last record is {last}: records after seq {prev_seq} are missing')
        return problems


def _record_problems(row: sqlite3.Row, prev_seq: int, prev_sha: str) -> List[str]:
    """The problems of one audit row given the previous row's seq and sha256."""
    seq, kind, problems = row['seq'], row['kind'], []
    if seq != prev_seq + 1 or row['prev_sha256'] != prev_sha:
        link = 'matches' if row['prev_sha256'] == prev_sha else 'does not match'
        problems.append(f'audit record seq {seq} (kind {kind}): records missing or reordered before seq {seq} '
                        f'(the previous record is seq {prev_seq}; this prev_sha256 {link} its sha256)')
    try:
        payload = json.loads(row['payload'])
    except ValueError:
        return problems + [f'audit record seq {seq} (kind {kind}) changed: its payload is not JSON']
    if audit_record_sha256(seq, kind, row['created_at'], row['prev_sha256'], payload) != row['sha256']:
        problems.append(f'audit record seq {seq} (kind {kind}) changed: its content no longer matches its sha256')
    return problems


def _request_row(row: sqlite3.Row) -> RequestRow:
    return RequestRow(id=row['id'], content=json.loads(row['content']), content_sha256=row['content_sha256'],
                      state=row['state'], submitted_at=row['submitted_at'], run_id=row['run_id'],
                      last_failure=row['last_failure'], redacted=bool(row['redacted']))


def _run_row(row: sqlite3.Row) -> RunRow:
    return RunRow(id=row['id'], request_ids=tuple(json.loads(row['request_ids'])), input_version=row['input_version'],
                  work_dir=row['work_dir'], state=row['state'], started_at=row['started_at'],
                  finished_at=row['finished_at'], reason=row['reason'], output_version=row['output_version'])


def _model_row(row: sqlite3.Row) -> ModelRow:
    return ModelRow(version=row['version'], checkpoint=row['checkpoint'], checkpoint_sha256=row['checkpoint_sha256'],
                    run_id=row['run_id'], parent_version=row['parent_version'], created_at=row['created_at'])


def _audit_row(row: sqlite3.Row) -> AuditRecord:
    return AuditRecord(seq=row['seq'], kind=row['kind'], created_at=row['created_at'],
                       payload=json.loads(row['payload']), prev_sha256=row['prev_sha256'], sha256=row['sha256'])


# -------------------------------------------------------------------------------------------- lock


class RunLock(FileLock):
    """One job runner at a time: :class:`ccu_av.utils.lock.FileLock` on ``<ledger_path>.lock``.

    Args:
        ledger_path: the ledger the lock guards.
        wait: poll until the lock is free instead of failing at once.
        timeout_s: with ``wait``, give up after this many seconds (None: wait forever).
        poll_s: the polling interval when waiting.

    Raises (on acquiring):
        LedgerLocked: another process (or another ``RunLock`` here) holds it.
    """

    def __init__(self, ledger_path: str, wait: bool = False, timeout_s: Optional[float] = None,
                 poll_s: float = 0.05) -> None:
        super().__init__(f'{ledger_path}.lock', 'another `tools/takedown.py run` holds it; wait for it to finish',
                         wait=wait, timeout_s=timeout_s, poll_s=poll_s, error=LedgerLocked)
