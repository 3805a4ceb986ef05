"""Dalil's extensions loaded by Rasa: NLU components (config.yml) and the input channel
(credentials.yml). This package imports rasa; the gateway (bot/) never imports it."""
