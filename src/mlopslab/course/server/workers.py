"""Grading workers: django-tasks' database worker, with a heartbeat.

The queue library hands each job to one worker (an exclusive transaction on
SQLite, SKIP LOCKED on PostgreSQL), but a worker killed mid-job would leave
its job "running" for ever. So every worker beats every few seconds, and any
worker puts back in the queue the jobs of a worker that has gone silent.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta

from django.core.management import call_command
from django.db import DatabaseError, close_old_connections, connection, transaction

from mlopslab.course.classroom.models import Submission, WorkerBeat

BEAT = 2.0  # seconds between heartbeats
SILENT = 20.0  # seconds without a beat before a worker counts as dead


def worker_name() -> str:
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def run(name: str | None = None, silent: float = SILENT) -> None:
    """Take grading jobs until interrupted (SIGINT or SIGTERM); rescue the jobs
    of workers silent for `silent` seconds."""
    name = name or worker_name()
    stop = threading.Event()
    beat = threading.Thread(target=_beat, args=(name, stop, silent), daemon=True)
    _record_beat(name)
    rescue_abandoned(silent)
    beat.start()
    try:
        call_command(
            "db_worker",
            queue_name="grading",
            worker_id=name,
            interval=0.5,
            startup_delay=False,
            reload=False,
            verbosity=0,
        )
    finally:
        stop.set()
        WorkerBeat.objects.filter(worker=name).delete()


def rescue_abandoned(silent: float = SILENT) -> int:
    """Queue again the jobs whose worker went silent; return how many."""
    from django_tasks_db.models import DBTaskResult

    now = datetime.now(UTC)
    alive = set(
        WorkerBeat.objects.filter(
            last_seen__gte=now - timedelta(seconds=silent)
        ).values_list("worker", flat=True)
    )
    rescued = 0
    with transaction.atomic():
        for job in DBTaskResult.objects.select_for_update().filter(status="RUNNING"):
            if job.worker_ids and job.worker_ids[-1] in alive:
                continue
            job.status = "READY"
            job.started_at = None
            job.save(update_fields=["status", "started_at"])
            _requeue_submission(job.args_kwargs)
            rescued += 1
    return rescued


def _requeue_submission(args_kwargs: dict[str, list[object]]) -> None:
    args = args_kwargs.get("args") or []
    if args:
        Submission.objects.filter(pk=args[0], status="running").update(status="queued")


def _beat(name: str, stop: threading.Event, silent: float) -> None:
    while not stop.wait(BEAT):
        try:
            _record_beat(name)
            rescue_abandoned(silent)
        except DatabaseError:  # the database is away for a moment: beat again later
            close_old_connections()
    connection.close()


def _record_beat(name: str) -> None:
    WorkerBeat.objects.update_or_create(
        worker=name, defaults={"last_seen": datetime.now(UTC)}
    )
