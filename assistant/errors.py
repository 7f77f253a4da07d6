"""Exceptions raised by `assistant/`; messages name the bad input and the fix."""


class AssistantError(Exception):
    """Base class for assistant errors a user can fix."""


class ModelNotAvailableError(AssistantError):
    """A configured model cannot be loaded offline."""


class ConfigError(AssistantError, ValueError):
    """A settings value or shop file is unusable."""
