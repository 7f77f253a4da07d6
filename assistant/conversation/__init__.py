"""One chat turn: the engine's turn loop, intents and slots, grounding, guardrails, memory and the chat-model backends."""
