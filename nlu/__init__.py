"""Custom Rasa NLU components for Dalil (loaded by Rasa from config.yml; imports rasa)."""
