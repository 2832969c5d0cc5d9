"""The HTTP edge: the app factory, what every request passes through first (``edge``:
control characters, bounded integers in URLs, trusted proxies), sign-in, Twilio and email
webhooks, the JSON API, the dashboard, health, metrics and calendar feeds. Views validate,
parse, call one service function and answer.

May import every part but ``cli``.
"""
