"""An exclusive lock held by one process: ``fcntl.flock`` on a lock file.

The holder writes its pid and start time into the lock file (for others' error messages). The OS
releases the lock when the holder's process exits or is killed, even by ``SIGKILL``, so a crashed
holder never leaves a stale lock; the file itself stays (removing it would let two processes lock
different files). Used for the takedown ledger's runs and for a job's work dir.
"""
import contextlib
import fcntl
import json
import os
import os.path as osp
import time
from typing import Any, Optional, Type


class LockHeld(RuntimeError):
    """Another process (or another lock object here) holds the lock.

    Attributes:
        lock_path: the lock file.
        holder_pid: the pid the holder wrote into it (None when unknown).
    """

    def __init__(self, message: str, lock_path: str = '', holder_pid: Optional[int] = None) -> None:
        super().__init__(message)
        self.lock_path, self.holder_pid = lock_path, holder_pid


class FileLock:
    """An exclusive ``fcntl.flock`` on ``path`` (see the module doc).

    Args:
        path: the lock file (created with its folder).
        hint: what the refusal says after naming the holder, e.g. who holds such locks and what to do.
        wait: poll until the lock is free instead of failing at once.
        timeout_s: with ``wait``, give up after this many seconds (None: wait forever).
        poll_s: the polling interval when waiting.
        error: the :class:`LockHeld` subclass raised.

    Raises (on acquiring):
        LockHeld: another process (or another lock object here) holds it.
    """

    def __init__(self, path: str, hint: str, wait: bool = False, timeout_s: Optional[float] = None,
                 poll_s: float = 0.05, error: Type[LockHeld] = LockHeld) -> None:
        self.path, self.hint = path, hint
        self.wait, self.timeout_s, self.poll_s, self.error = wait, timeout_s, poll_s, error
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> 'FileLock':
        """Take the lock (see the class docstring); returns self."""
        if self._fd is not None:
            raise RuntimeError(f'{self.path} is already held by this lock object')
        os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not self.wait or (deadline is not None and time.monotonic() >= deadline):
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise self._held_error(holder) from None
                time.sleep(self.poll_s)
        self._fd = fd
        _write_holder(fd)
        return self

    def _held_error(self, holder: dict) -> LockHeld:
        pid = holder.get('pid', 'unknown (it is just starting)')
        since = holder.get('started_at')
        when = f' since {time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))}' if since else ''
        waited = f' after waiting {self.timeout_s} s' if self.wait else ''
        return self.error(f'{self.path} is locked by pid {pid}{when}{waited}: {self.hint}',
                          lock_path=self.path, holder_pid=holder.get('pid'))

    def release(self) -> None:
        """Release the lock (idempotent); clears the holder information first."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> 'FileLock':
        return self.acquire()

    def __exit__(self, *exc_info: Any) -> None:
        self.release()


def _write_holder(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(dict(pid=os.getpid(), started_at=time.time())).encode(), 0)
    os.fsync(fd)


def _read_holder(fd: int) -> dict:
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode() or '{}')
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
