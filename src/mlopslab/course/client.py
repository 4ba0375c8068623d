"""The course server's client: what `course submit` and `course quiz --server` send.

Every failure is one CourseError line: an unreachable server, a refusal (the
server's own sentence), an answer that is not the server's JSON.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mlopslab.errors import CourseError, first_line


class Refused(CourseError):
    """The server's own no: `status` says which (400 a bad answer, 409 no attempt
    left, 401 a bad token)."""

    def __init__(self, message: str, hint: str, status: int) -> None:
        super().__init__(message, hint)
        self.status = status


@dataclass(frozen=True)
class Server:
    url: str
    token: str

    def submit(self, module: str, bundle: Path) -> dict[str, Any]:
        with bundle.open("rb") as handle:
            return self._call(
                lambda: httpx.post(
                    self._at(f"/api/submit/{module}/"),
                    headers=self._auth(),
                    files={"upload": ("work.bundle", handle)},
                    timeout=120,
                )
            )

    def submission(self, pk: int) -> dict[str, Any]:
        return self._call(
            lambda: httpx.get(
                self._at(f"/api/submissions/{pk}/"), headers=self._auth(), timeout=30
            )
        )

    def wait(
        self, pk: int, timeout: float, on_change: Callable[[str], None]
    ) -> dict[str, Any]:
        """Poll until graded or failed; CourseError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        shown = ""
        while True:
            reply = self.submission(pk)
            if reply["status"] in {"graded", "failed"}:
                return reply
            if reply["status"] != shown:
                shown = reply["status"]
                on_change(shown)
            if time.monotonic() > deadline:
                raise CourseError(
                    f"submission {pk} is still {shown} after {timeout:g} s",
                    "its grade will appear on the course server",
                )
            time.sleep(2)

    def quiz(self, module: str) -> dict[str, Any]:
        """The attempt in progress: its questions, without keys."""
        return self._call(
            lambda: httpx.get(
                self._at(f"/api/quiz/{module}/"), headers=self._auth(), timeout=30
            )
        )

    def answer(
        self, module: str, run: int, question: str, given: str
    ) -> dict[str, Any]:
        """Send one answer; the reply carries the key and the explanation."""
        return self._call(
            lambda: httpx.post(
                self._at(f"/api/quiz/{module}/"),
                headers=self._auth(),
                json={"run": run, "question": question, "answer": given},
                timeout=30,
            )
        )

    def _at(self, path: str) -> str:
        return self.url.rstrip("/") + path

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _call(self, request: Callable[[], httpx.Response]) -> dict[str, Any]:
        try:
            response = request()
        except httpx.HTTPError as exc:
            raise CourseError(
                f"cannot reach the course server {self.url}: {first_line(exc)}",
                "check --server (or MLOPSLAB_COURSE_SERVER) and your network",
            ) from exc
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise CourseError(
                f"{self.url} answered {response.status_code} without JSON",
                "check that --server is the course server's address",
            ) from exc
        if response.status_code >= 400:
            raise Refused(
                f"the course server refused: {body.get('error', response.status_code)}",
                "fix that and try again",
                response.status_code,
            )
        return body
