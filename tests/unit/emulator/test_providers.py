"""Every provider route answers its own native wire format (happy paths)."""

from __future__ import annotations

import base64
import struct

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator

from .conftest import ANTHROPIC_HEADERS, GW, OPENAI_AUTH, chat


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ("openai", "chat/completions"),
        ("groq", "chat/completions"),
        ("perplexity-ai", "chat/completions"),
        ("deepseek", "chat/completions"),
        ("cerebras", "chat/completions"),
        ("openrouter", "chat/completions"),
        ("openrouter", "v1/chat/completions"),
        ("mistral", "v1/chat/completions"),
        ("grok", "v1/chat/completions"),
    ],
)
def test_openai_family_chat(http: httpx.Client, emu: Emulator, provider: str, path: str) -> None:
    r = http.post(f"{GW}/{provider}/{path}", json=chat("say hi please"), headers=OPENAI_AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "say hi please",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    rec = emu.requests[-1]
    assert (rec.provider, rec.route, rec.status, rec.model) == (provider, path, 200, "gpt-4o-mini")


def test_echo_uses_last_user_message_and_counts_whole_prompt(http: httpx.Client) -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": [{"type": "text", "text": "second one"}]},
        ],
    }
    r = http.post(f"{GW}/openai/chat/completions", json=body, headers=OPENAI_AUTH)
    out = r.json()
    assert out["choices"][0]["message"]["content"] == "second one"
    assert out["usage"]["prompt_tokens"] == 8


def test_openai_logprobs_and_max_tokens_truncation(http: httpx.Client) -> None:
    body = chat("one two three four five", max_tokens=2, logprobs=True)
    out = http.post(f"{GW}/openai/chat/completions", json=body, headers=OPENAI_AUTH).json()
    choice = out["choices"][0]
    assert choice["message"]["content"] == "one two"
    assert choice["finish_reason"] == "length"
    tokens = [t["token"] for t in choice["logprobs"]["content"]]
    assert tokens == ["one", " two"]
    assert all(t["logprob"] <= 0 for t in choice["logprobs"]["content"])


def test_openai_stream_is_sse(http: httpx.Client) -> None:
    body = chat("a b", stream=True, stream_options={"include_usage": True})
    r = http.post(f"{GW}/openai/chat/completions", json=body, headers=OPENAI_AUTH)
    assert r.headers["content-type"].startswith("text/event-stream")
    lines = [ln for ln in r.text.splitlines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert '"usage"' in lines[-2]


def test_openai_embeddings(http: httpx.Client) -> None:
    r = http.post(
        f"{GW}/openai/embeddings",
        json={"model": "text-embedding-3-large", "input": ["the cat sat", "the cat sat down"]},
        headers=OPENAI_AUTH,
    )
    body = r.json()
    assert r.status_code == 200 and body["object"] == "list"
    vecs = [d["embedding"] for d in body["data"]]
    assert [len(v) for v in vecs] == [16, 16]
    assert abs(sum(x * x for x in vecs[0]) - 1) < 1e-6
    assert body["usage"] == {"prompt_tokens": 7, "total_tokens": 7}


def test_openai_embeddings_dimensions_and_base64(http: httpx.Client) -> None:
    body = {"model": "m", "input": "hi", "dimensions": 8, "encoding_format": "base64"}
    out = http.post(f"{GW}/openai/embeddings", json=body, headers=OPENAI_AUTH).json()
    raw = base64.b64decode(out["data"][0]["embedding"])
    assert len(struct.unpack("<8f", raw)) == 8


def test_azure_openai(http: httpx.Client, emu: Emulator) -> None:
    r = http.post(
        f"{GW}/azure-openai/myres/mydeploy/chat/completions",
        params={"api-version": "2024-12-01-preview"},
        json={"messages": [{"role": "user", "content": "hello azure"}]},
        headers={"api-key": "az-key"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "mydeploy"
    assert r.json()["choices"][0]["message"]["content"] == "hello azure"
    assert emu.requests[-1].query == {"api-version": "2024-12-01-preview"}


def test_azure_embeddings(http: httpx.Client) -> None:
    r = http.post(
        f"{GW}/azure-openai/res/emb/embeddings?api-version=2024-12-01-preview",
        json={"input": "x y"},
        headers={"api-key": "k"},
    )
    assert r.status_code == 200 and r.json()["model"] == "emb"


def test_anthropic_messages(http: httpx.Client) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "system": "Be brief",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi claude"}]}],
    }
    r = http.post(f"{GW}/anthropic/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    out = r.json()
    assert r.status_code == 200, r.text
    assert out["type"] == "message" and out["role"] == "assistant"
    assert out["content"] == [{"type": "text", "text": "hi claude"}]
    assert out["stop_reason"] == "end_turn"
    assert out["usage"]["input_tokens"] == 4 and out["usage"]["output_tokens"] == 2


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_google_ai_studio_generate(http: httpx.Client, version: str) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hello gemini"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief"}]},
        "generationConfig": {"maxOutputTokens": 50, "temperature": 0},
    }
    r = http.post(
        f"{GW}/google-ai-studio/{version}/models/gemini-2.0-flash:generateContent",
        json=body,
        headers={"x-goog-api-key": "g-key"},
    )
    out = r.json()
    assert r.status_code == 200, r.text
    cand = out["candidates"][0]
    assert cand["content"] == {"parts": [{"text": "hello gemini"}], "role": "model"}
    assert cand["finishReason"] == "STOP"
    assert out["usageMetadata"] == {
        "promptTokenCount": 4,
        "candidatesTokenCount": 2,
        "totalTokenCount": 6,
    }
    assert out["modelVersion"] == "gemini-2.0-flash"


def test_google_key_in_query_and_embeddings(http: httpx.Client) -> None:
    r = http.post(
        f"{GW}/google-ai-studio/v1beta/models/text-embedding-004:batchEmbedContents?key=g",
        json={
            "requests": [
                {"content": {"parts": [{"text": "a"}]}},
                {"content": {"parts": [{"text": "b"}]}},
            ]
        },
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["embeddings"]) == 2


def test_cohere_v2_chat(http: httpx.Client) -> None:
    body = {"model": "command-r-plus", "messages": [{"role": "user", "content": "hello cohere"}]}
    r = http.post(f"{GW}/cohere/v2/chat", json=body, headers={"Authorization": "Bearer co"})
    out = r.json()
    assert r.status_code == 200, r.text
    assert out["finish_reason"] == "COMPLETE"
    assert out["message"]["content"] == [{"type": "text", "text": "hello cohere"}]
    assert out["usage"]["billed_units"] == {"input_tokens": 2, "output_tokens": 2}


def test_cohere_v1_chat(http: httpx.Client) -> None:
    body = {"message": "hi there", "chat_history": [{"role": "USER", "message": "before"}]}
    r = http.post(f"{GW}/cohere/v1/chat", json=body, headers={"Authorization": "Token co"})
    out = r.json()
    assert r.status_code == 200, r.text
    assert out["text"] == "hi there"
    assert out["chat_history"][-1] == {"role": "CHATBOT", "message": "hi there"}
    assert out["meta"]["billed_units"]["input_tokens"] == 3


def test_cohere_embed(http: httpx.Client) -> None:
    body = {"model": "embed-v4.0", "texts": ["a", "b"], "input_type": "search_document"}
    out = http.post(
        f"{GW}/cohere/v2/embed", json=body, headers={"Authorization": "Bearer c"}
    ).json()
    assert len(out["embeddings"]["float"]) == 2


def test_workers_ai_native(http: httpx.Client, emu: Emulator) -> None:
    r = http.post(
        f"{GW}/workers-ai/@cf/meta/llama-3.1-8b-instruct",
        json={"messages": [{"role": "user", "content": "hello workers"}]},
        headers={"Authorization": "Bearer cf-token"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "result": {
            "response": "hello workers",
            "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4},
        },
        "success": True,
        "errors": [],
        "messages": [],
    }
    assert emu.requests[-1].model == "@cf/meta/llama-3.1-8b-instruct"


def test_workers_ai_prompt_and_openai_compat(http: httpx.Client) -> None:
    auth = {"Authorization": "Bearer cf"}
    r = http.post(
        f"{GW}/workers-ai/@cf/meta/llama-3.1-8b-instruct", json={"prompt": "p q"}, headers=auth
    )
    assert r.json()["result"]["response"] == "p q"
    body = chat("compat words", model="@cf/meta/llama-3.1-8b-instruct")
    r = http.post(f"{GW}/workers-ai/v1/chat/completions", json=body, headers=auth)
    assert r.json()["choices"][0]["message"]["content"] == "compat words"
    r = http.post(f"{GW}/workers-ai/@cf/baai/bge-base-en-v1.5", json={"text": ["x"]}, headers=auth)
    assert r.json()["result"]["shape"] == [1, 16]


def test_huggingface(http: httpx.Client) -> None:
    auth = {"Authorization": "Bearer hf_x"}
    body = {"inputs": "Once upon", "parameters": {"max_new_tokens": 5, "return_full_text": False}}
    r = http.post(f"{GW}/huggingface/bigcode/starcoder", json=body, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json() == [{"generated_text": "Once upon"}]
    full = http.post(f"{GW}/huggingface/gpt2", json={"inputs": "ab"}, headers=auth).json()
    assert full == [{"generated_text": "abab"}]  # return_full_text defaults to true


def test_replicate_prefer_wait(http: httpx.Client) -> None:
    r = http.post(
        f"{GW}/replicate/predictions",
        json={"version": "meta/llama-3-8b", "input": {"prompt": "hello replicate world"}},
        headers={"Authorization": "Bearer r8_x", "Prefer": "wait"},
    )
    out = r.json()
    assert r.status_code == 201, r.text
    assert out["status"] == "succeeded"
    assert out["output"] == ["hello", " replicate", " world"]
    assert "".join(out["output"]) == "hello replicate world"
    assert out["metrics"]["input_token_count"] == 3
