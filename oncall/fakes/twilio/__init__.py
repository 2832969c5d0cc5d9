"""A fake Twilio: a real HTTP server on loopback that speaks Twilio's REST API, and the
clients that call the service back as Twilio does (signed callbacks, inbound SMS, a voice
client that follows TwiML). See :mod:`oncall.fakes.twilio.server`.
"""
