"""The ASGI application each server process imports (`course serve`).

The process sets itself up from what `course serve` put in the environment:
the class database, the workspace, the instructor's course and the policy.
"""

import gc
import json
import os
import warnings
from pathlib import Path

from django.core.asgi import get_asgi_application
from django.template.loader import get_template

from mlopslab.course.server.app import SETUP_VARIABLE, configure
from mlopslab.course.server.middleware import BodyLimit

# Static files and the solution download are small files read in one go; Django
# warns on every one that it iterates them synchronously under ASGI.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume")

_setup = json.loads(os.environ[SETUP_VARIABLE])
# `course serve` migrated the database before starting this process.
configure(
    _setup["url"],
    Path(_setup["home"]),
    Path(_setup["course"]),
    _setup["policy"],
    migrated=True,
)
from mlopslab.course.server.submissions import UPLOAD_LIMIT  # noqa: E402 (models)

# A hand-in's limit, and a megabyte for the form around it.
application = BodyLimit(get_asgi_application(), UPLOAD_LIMIT + 2**20)

# Compile the pages now, not in the first student's request (about 0.3 s), and
# keep what start-up made out of the garbage collector's repeated scans.
for _name in (
    "home",
    "lesson",
    "quiz",
    "_question",
    "assignment",
    "submission",
    "grid",
):
    get_template(f"classroom/{_name}.html")
gc.freeze()
