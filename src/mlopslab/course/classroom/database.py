"""Open the class's database: Django configured once per process, then migrated.

The course server, its workers and the CLI's gradebook commands all come
through `use_database`, so they agree on one store. A process may switch to
another database later (the tests do); the server never does.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import dj_database_url
import django
from django.conf import settings
from django.db import DatabaseError, connections

from mlopslab.errors import StoreError, first_line

APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "mlopslab.course.classroom",
    "mlopslab.course.server",
]


def database_url(value: str | Path) -> str:
    """A URL from a URL or a path to an SQLite file."""
    text = str(value)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def database_settings(url: str) -> dict[str, Any]:
    try:
        parsed: dict[str, Any] = dict(dj_database_url.parse(url))
    except ValueError as exc:
        raise StoreError(
            f"cannot read the course database URL {url!r}: {first_line(exc)}",
            "give sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/NAME",
        ) from exc
    if parsed["ENGINE"].endswith("sqlite3"):
        # WAL lets the server read while a worker writes; IMMEDIATE takes the
        # write lock up front so two writers queue instead of deadlocking.
        parsed["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    else:
        parsed["OPTIONS"] = {"connect_timeout": 5}
        parsed["CONN_MAX_AGE"] = 60
        parsed["CONN_HEALTH_CHECKS"] = True
    return parsed


def use_database(
    url: str,
    home: Path,
    course_root: Path | None = None,
    policy: str = "best",
    migrated: bool = False,
) -> None:
    """Point this process at the class database `url`, migrated to this version.

    `home` holds what the database does not: the server's secret key and the
    uploaded submissions. The server and its workers also name the
    instructor's `course_root` and the quiz attempt `policy`. `migrated`:
    another process has just migrated it (and this one may not touch the
    database yet, as a server process while its event loop starts).
    """
    wanted = database_settings(url)
    if not settings.configured:
        extra = {"COURSE_ROOT": str(course_root or ""), "ATTEMPT_POLICY": policy}
        settings.configure(**_settings(wanted, home), **extra)
        django.setup()
    elif settings.DATABASES["default"] != wanted:
        _switch(wanted)
    if not migrated:
        migrate()


def migrate() -> None:
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connections["default"])
        unknown = set(executor.loader.applied_migrations) - set(
            executor.loader.graph.nodes
        )
        if unknown:
            name = settings.DATABASES["default"].get("NAME", "")
            raise StoreError(
                f"the course database {name} is from a newer mlopslab",
                "upgrade mlopslab",
            )
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            call_command("migrate", verbosity=0, interactive=False)
    except DatabaseError as exc:
        raise unreachable(exc) from exc


def unreachable(exc: BaseException) -> StoreError:
    """The one line for a locked, missing or unreachable class database."""
    name = settings.DATABASES["default"].get("NAME", "")
    return StoreError(
        f"cannot open the course database {name}: {first_line(exc)}",
        "check that it is reachable and not locked by another program; move a"
        " damaged SQLite file aside and a new one is made",
    )


def _switch(wanted: dict[str, Any]) -> None:
    connections.close_all()
    settings.DATABASES["default"] = wanted
    connections.settings = connections.configure_settings(settings.DATABASES)
    del connections["default"]


def _settings(database: dict[str, Any], home: Path) -> dict[str, Any]:
    return {
        "DEBUG": False,
        "SECRET_KEY": _secret_key(home),
        "ALLOWED_HOSTS": ["*"],
        "DATABASES": {"default": database},
        "INSTALLED_APPS": APPS,
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "whitenoise.middleware.WhiteNoiseMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "axes.middleware.AxesMiddleware",
            "mlopslab.course.server.middleware.DatabaseDown",
        ],
        "AUTHENTICATION_BACKENDS": [
            "axes.backends.AxesStandaloneBackend",
            "django.contrib.auth.backends.ModelBackend",
        ],
        "ROOT_URLCONF": "mlopslab.course.server.urls",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        # WhiteNoise serves the apps' own static folders: nothing is collected.
        "STATIC_URL": "/static/",
        "STATIC_ROOT": None,
        "WHITENOISE_USE_FINDERS": True,
        "UPLOADS": str(home / "course-uploads"),
        "LOGIN_URL": "/login/",
        "LOGIN_REDIRECT_URL": "/",
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_AGE": 8 * 3600,
        "CSRF_FAILURE_VIEW": "mlopslab.course.server.pages.csrf_failure",
        # Uploads arrive in a temporary file above 2.5 MB; the view caps them.
        "DATA_UPLOAD_MAX_MEMORY_SIZE": 2_621_440,
        "AXES_FAILURE_LIMIT": 5,
        "AXES_COOLOFF_TIME": 0.25,  # hours: 15 minutes
        "AXES_LOCKOUT_PARAMETERS": [["username", "ip_address"]],
        "AXES_LOCKOUT_TEMPLATE": "classroom/locked.html",
        "AXES_VERBOSE": False,
        "TASKS": {
            "default": {
                "BACKEND": "django_tasks_db.DatabaseBackend",
                "QUEUES": ["grading"],
            }
        },
        "LOGGING": {
            "version": 1,
            "disable_existing_loggers": False,
            "root": {"level": "WARNING"},
        },
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
    }


def _secret_key(home: Path) -> str:
    """The server's signing key: made once, kept in the workspace, owner-only."""
    path = home / "course-secret.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()
