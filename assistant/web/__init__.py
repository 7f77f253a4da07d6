"""The web interfaces: the HTTP API, the Gradio UI, the embeddable widget, and their authentication."""
