"""The instructors' admin: roster, tokens, extensions, grades and overrides.

Django's admin, for what needs no page of its own: fix a roster line, revoke a
token, grant an extension, correct a score (an attempt's score is the grade
that counts; the change is logged by the admin's history).
"""

from django.contrib import admin

from mlopslab.course.classroom.models import (
    Attempt,
    Extension,
    Member,
    Release,
    Submission,
    Token,
)


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("student", "name", "role")
    list_filter = ("role",)
    search_fields = ("student", "name")


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ("member", "created", "revoked")
    readonly_fields = ("digest", "created")


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ("student", "module", "kind", "demo", "score", "max_score")
    list_filter = ("kind", "module")
    search_fields = ("student",)


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "student", "module", "status", "score", "days_late")
    list_filter = ("status", "module")
    search_fields = ("student",)
    readonly_fields = ("filename", "sha256", "size", "results", "runs")


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = ("student", "module", "due")


admin.site.register(Release)
admin.site.site_header = "mlopslab course: admin"
