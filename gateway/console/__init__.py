"""The web console at /console: login, playground, jobs and (admin) status, served by the gateway.

``routes.py`` holds the pages, ``sessions.py`` the logins, ``gate.py`` lets a session's own
API calls in, ``guard.py`` the CSP and same-origin checks, ``status.py`` and ``chart.py``
the admin's status page.
"""
