"""The HTTP edge: the app factory, sign-in, Twilio and email webhooks, the JSON API, the
dashboard, health, metrics and calendar feeds. Views validate, parse, call one service
function and answer.

May import every part but ``cli``.
"""
