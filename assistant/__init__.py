"""The Shopbot assistant: settings, models, the conversation engine and its interfaces (API, UI, CLI)."""

from assistant.config import Settings, get_settings
from assistant.errors import AssistantError, ConfigError, ModelNotAvailableError

__all__ = ["AssistantError", "ConfigError", "ModelNotAvailableError", "Settings", "get_settings"]
