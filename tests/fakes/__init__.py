"""Fakes that stand in for the services paperfeed talks to, so tests run offline on loopback."""
