"""Twilio webhooks: the signature guard, the critical line (voice), engineers' SMS, and
delivery and call status callbacks. Each view validates, parses, calls one service function and
answers with TwiML.
"""
