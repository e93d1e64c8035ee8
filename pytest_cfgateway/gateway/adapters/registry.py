"""The built-in adapters, slug -> instance (registered through the same hook as plugins)."""

from __future__ import annotations

from .anthropic import AnthropicAdapter
from .base import Adapter
from .cohere import CohereAdapter
from .gemini import GeminiAdapter
from .huggingface import HuggingFaceAdapter
from .openai_chat import (
    AzureOpenAIAdapter,
    CerebrasAdapter,
    CompatAdapter,
    DeepSeekAdapter,
    GrokAdapter,
    GroqAdapter,
    MistralAdapter,
    OpenAIChatAdapter,
    OpenRouterAdapter,
    PerplexityAdapter,
)
from .replicate import ReplicateAdapter
from .workers_ai import WorkersAIAdapter

_CLASSES: tuple[type[Adapter], ...] = (
    # the twelve providers of SPEC section 3, in its order
    OpenAIChatAdapter,
    AnthropicAdapter,
    GroqAdapter,
    PerplexityAdapter,
    GeminiAdapter,
    MistralAdapter,
    CohereAdapter,
    AzureOpenAIAdapter,
    WorkersAIAdapter,
    HuggingFaceAdapter,
    ReplicateAdapter,
    GrokAdapter,
    # the gateway's OpenAI-compatible endpoint
    CompatAdapter,
    # OpenAI-compatible extras (the proof that registered providers work)
    DeepSeekAdapter,
    CerebrasAdapter,
    OpenRouterAdapter,
)

#: Every built-in slug, for "supported providers" error messages.
SUPPORTED_SLUGS: tuple[str, ...] = tuple(cls.slug for cls in _CLASSES)


def builtin_adapters() -> dict[str, Adapter]:
    """A fresh ``{slug: adapter}`` map of every built-in provider adapter."""
    return {cls.slug: cls() for cls in _CLASSES}
