"""Prompt templates (`*.md`) and their loader; imports nothing else from the project."""

from prompts.loader import PromptError, fill_placeholders, load, placeholders, render, variables

__all__ = ["PromptError", "fill_placeholders", "load", "placeholders", "render", "variables"]
