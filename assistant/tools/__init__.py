"""The assistant's tools: each returns structured data the reply is built from (one file per tool)."""
