"""The class's database: roster, quiz and assignment attempts, submissions, jobs.

A Django app (label `classroom`). The course server, its grading workers and
the CLI's gradebook commands all read and write this one database: SQLite in
the workspace by default, or PostgreSQL through a URL.
"""
