"""Tables of the class's database. Students are named by their roster id."""

from __future__ import annotations

from django.conf import settings
from django.db import models

KINDS = [("quiz", "quiz"), ("assignment", "assignment")]
ROLES = [("student", "student"), ("instructor", "instructor")]
STATES = [
    ("queued", "queued"),
    ("running", "running"),
    ("graded", "graded"),
    ("failed", "failed"),
]


class Member(models.Model):
    """A roster line: the login account, the roster id and the role."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member"
    )
    student = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=ROLES, default="student")

    def __str__(self) -> str:
        return f"{self.student} ({self.role})"


class Token(models.Model):
    """A per-student token for `course submit`; only its SHA-256 is kept."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.DateTimeField(null=True, blank=True)


class Attempt(models.Model):
    """One scored quiz or assignment attempt: the gradebook's row."""

    student = models.CharField(max_length=64)
    module = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=KINDS)
    variant_seed = models.BigIntegerField(null=True, blank=True)
    demo = models.CharField(max_length=64, null=True, blank=True)
    answers = models.JSONField(default=dict)
    details = models.JSONField(default=dict)
    score = models.FloatField()
    max_score = models.FloatField()
    started_at = models.FloatField()
    finished_at = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["student", "module", "kind"])]


class LessonView(models.Model):
    student = models.CharField(max_length=64)
    module = models.CharField(max_length=64)
    first_opened = models.FloatField()
    last_opened = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "module"], name="one_view_row")
        ]


class QuizRun(models.Model):
    """A quiz being taken on the server: answers lock one question at a time."""

    student = models.CharField(max_length=64)
    module = models.CharField(max_length=64)
    number = models.IntegerField()  # 0 for the first attempt
    demo = models.CharField(max_length=64, blank=True, default="")
    seed = models.BigIntegerField()
    started_at = models.FloatField()
    answers = models.JSONField(default=dict)  # question id -> given
    points = models.JSONField(default=dict)  # question id -> points
    attempt = models.OneToOneField(
        Attempt, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student", "module", "demo", "number"], name="one_run"
            )
        ]


class Submission(models.Model):
    """An uploaded assignment and what the grader made of it."""

    student = models.CharField(max_length=64)
    module = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField()
    filename = models.CharField(max_length=200)  # the file in the uploads folder
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=STATES, default="queued")
    score = models.FloatField(null=True, blank=True)
    max_score = models.FloatField(null=True, blank=True)
    days_late = models.IntegerField(default=0)
    kept = models.FloatField(default=1.0)
    summary = models.TextField(blank=True)
    results = models.JSONField(default=list)  # one entry per check, hidden included
    written = models.JSONField(default=dict)  # question id -> answer, as handed in
    graded_at = models.DateTimeField(null=True, blank=True)
    runs = models.IntegerField(default=0)  # how many times a worker took it
    attempt = models.OneToOneField(
        Attempt, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        indexes = [models.Index(fields=["student", "module"])]


class HandGrade(models.Model):
    """An instructor's points and comment for one written answer of a submission."""

    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="hand_grades"
    )
    question = models.CharField(max_length=64)
    points = models.FloatField()
    comment = models.TextField(blank=True)
    grader = models.CharField(max_length=64)
    graded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "question"], name="one_hand_grade"
            )
        ]


class Extension(models.Model):
    """A later due date for one student and one module."""

    student = models.CharField(max_length=64)
    module = models.CharField(max_length=64)
    due = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "module"], name="one_extension")
        ]


class Release(models.Model):
    """A module's solution, released by an instructor after the due date."""

    module = models.CharField(max_length=64, unique=True)
    released_at = models.DateTimeField()


class WorkerBeat(models.Model):
    """A grading worker's heartbeat: a job whose worker went silent runs again."""

    worker = models.CharField(max_length=64, primary_key=True)
    last_seen = models.DateTimeField()
