"""Dalil's extensions loaded by Rasa: NLU components (config.yml), the input channel
(credentials.yml) and measured speed-ups of Rasa internals (nlu/speedups.py). This package
imports rasa; the gateway (bot/) never imports it."""

from nlu import speedups

speedups.install()
