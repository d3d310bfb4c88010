"""Serving: the HTTP server (OpenAI-compatible ``/v1``, JSON ``/api``) and the web chat."""

from bot.serve.config import Gate, ServerConfig, parse_api_keys, parse_logins
from bot.serve.server import create_app, resolve_caller

__all__ = ["Gate", "ServerConfig", "create_app", "parse_api_keys", "parse_logins", "resolve_caller"]
