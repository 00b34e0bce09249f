"""Telling people things outside the API: text messages (sms), and later Web Push (issue 20)."""
