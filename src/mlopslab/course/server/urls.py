from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from mlopslab.course.server import api, handgrading, pages, teach

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="classroom/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", pages.home, name="home"),
    path("m/<slug:module>/", pages.lesson, name="lesson"),
    path("m/<slug:module>/quiz/", pages.quiz, name="quiz"),
    path("m/<slug:module>/assignment/", pages.assignment, name="assignment"),
    path("m/<slug:module>/solution/", pages.solution, name="solution"),
    path("quiz/<int:run>/<slug:question>/", pages.answer, name="answer"),
    path("submissions/<int:pk>/", pages.submission, name="submission"),
    path("teach/", teach.grid, name="grid"),
    path("teach/queue/", teach.queue, name="queue"),
    path("teach/m/<slug:module>/", teach.module_report, name="module-report"),
    path("teach/m/<slug:module>/regrade/", teach.regrade_module, name="regrade-module"),
    path("teach/m/<slug:module>/extend/", teach.extend, name="extend"),
    path("teach/m/<slug:module>/release/", teach.release, name="release"),
    path("teach/submissions/<int:pk>/", teach.submission, name="teach-submission"),
    path("teach/submissions/<int:pk>/regrade/", teach.regrade, name="regrade"),
    path(
        "teach/submissions/<int:pk>/written/<slug:question>/",
        handgrading.grade_written,
        name="grade-written",
    ),
    path("teach/export/<slug:kind>/", teach.export, name="export"),
    path("api/submit/<slug:module>/", api.submit, name="api-submit"),
    path("api/submissions/<int:pk>/", api.status, name="api-status"),
    path("api/quiz/<slug:module>/", api.quiz, name="api-quiz"),
    path("admin/", admin.site.urls),
]

handler403 = "mlopslab.course.server.errors.forbidden"
handler404 = "mlopslab.course.server.errors.not_found"
handler500 = "mlopslab.course.server.errors.broken"
