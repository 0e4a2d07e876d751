"""The official OpenAI Python SDK against a running Tollgate.

Environment: TOLLGATE_TEST_URL (http://host:port), TOLLGATE_TEST_KEY (a demo gateway key with credits),
TOLLGATE_TEST_BROKE_KEY (a gateway key with no credits left), and optionally TOLLGATE_TEST_CHAT_MODELS
(comma-separated; default the built-in mock models) and TOLLGATE_TEST_EMBED_MODEL. Chat checks run
once per chat model, so a model whose provider speaks Anthropic's API checks the translation.
Prints one line per check and a closing "N passed, M failed" line; exits non-zero on any
failure.
"""

import json

import os

import openai

from harness import check, report

BASE = os.environ["TOLLGATE_TEST_URL"].rstrip("/") + "/v1"
KEY = os.environ["TOLLGATE_TEST_KEY"]
BROKE_KEY = os.environ["TOLLGATE_TEST_BROKE_KEY"]
LIMITED_KEY = os.environ["TOLLGATE_TEST_LIMITED_KEY"]

CHAT_MODELS = os.environ.get("TOLLGATE_TEST_CHAT_MODELS", "mock-small,mock-large").split(",")
EMBED_MODEL = os.environ.get("TOLLGATE_TEST_EMBED_MODEL", "mock-embed")
SMALL = CHAT_MODELS[0]
LARGE = CHAT_MODELS[-1]

client = openai.OpenAI(base_url=BASE, api_key=KEY, max_retries=0)

WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "The forecast for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


for model in CHAT_MODELS:

    @check(f"{model}: non-streaming chat completion")
    def _():
        r = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hello from the SDK"}]
        )
        text = r.choices[0].message.content
        assert text.endswith("You said: Hello from the SDK"), text
        assert r.choices[0].finish_reason == "stop"
        assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0

    @check(f"{model}: streaming chat completion with include_usage")
    def _():
        stream = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "stream it"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.endswith("You said: stream it"), text
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
        assert all(c.usage is None for c in chunks[:-1])

    @check(f"{model}: streaming without usage")
    def _():
        chunks = list(
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "x"}], stream=True
            )
        )
        assert all(c.usage is None for c in chunks)
        assert chunks[-1].choices[0].finish_reason == "stop"

    @check(f"{model}: output limit gives finish_reason length")
    def _():
        r = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "a long answer"}], max_tokens=2
        )
        assert r.choices[0].finish_reason == "length"
        assert r.usage.completion_tokens == 2

    @check(f"{model}: tools: a function call, then its result")
    def _():
        ask = [{"role": "user", "content": "Paris"}]
        r = client.chat.completions.create(model=model, messages=ask, tools=WEATHER)
        assert r.choices[0].finish_reason == "tool_calls", r.choices[0]
        call = r.choices[0].message.tool_calls[0]
        assert call.function.name == "weather"
        assert json.loads(call.function.arguments) == {"city": "Paris"}, call.function.arguments
        follow = ask + [
            r.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
        ]
        r = client.chat.completions.create(model=model, messages=follow, tools=WEATHER)
        assert r.choices[0].message.content == "The tool answered: sunny, 21 C", r.choices[0]

    @check(f"{model}: tools, streamed")
    def _():
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Oslo"}], tools=WEATHER, stream=True
        )
        chunks = list(stream)
        args = "".join(
            c.choices[0].delta.tool_calls[0].function.arguments or ""
            for c in chunks
            if c.choices and c.choices[0].delta.tool_calls
        )
        assert json.loads(args) == {"city": "Oslo"}, args
        assert chunks[-1].choices[0].finish_reason == "tool_calls"


@check("model list")
def _():
    ids = [m.id for m in client.models.list()]
    assert set(CHAT_MODELS + [EMBED_MODEL]) <= set(ids), ids


@check("embeddings, as the SDK asks for them (base64) and as floats")
def _():
    r = client.embeddings.create(model=EMBED_MODEL, input=["same", "other", "same"])
    vectors = [d.embedding for d in r.data]
    assert len(vectors) == 3 and len(vectors[0]) == 256, len(vectors[0])
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    assert abs(sum(x * x for x in vectors[0]) - 1.0) < 1e-3
    floats = client.embeddings.create(model=EMBED_MODEL, input="same", encoding_format="float")
    assert all(abs(a - b) < 1e-6 for a, b in zip(floats.data[0].embedding, vectors[0]))
    assert r.usage.prompt_tokens > 0


@check("bad key raises AuthenticationError")
def _():
    bad = openai.OpenAI(base_url=BASE, api_key="tg_gw_" + "x" * 40, max_retries=0)
    try:
        bad.chat.completions.create(model=SMALL, messages=[{"role": "user", "content": "x"}])
    except openai.AuthenticationError as e:
        assert e.code == "invalid_api_key", e.code
    else:
        raise AssertionError("no error")


@check("unknown model raises NotFoundError listing the models")
def _():
    try:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    except openai.NotFoundError as e:
        assert e.code == "model_not_found", e.code
        assert SMALL in e.message, e.message
    else:
        raise AssertionError("no error")


@check("a model the key may not call raises PermissionDeniedError")
def _():
    limited = openai.OpenAI(base_url=BASE, api_key=LIMITED_KEY, max_retries=0)
    assert [m.id for m in limited.models.list()] == [SMALL]
    try:
        limited.chat.completions.create(model=LARGE, messages=[{"role": "user", "content": "x"}])
    except openai.PermissionDeniedError as e:
        assert e.status_code == 403, e.status_code
        assert SMALL in e.message, e.message
    else:
        raise AssertionError("no error")


@check("exhausted credits raise a 402 APIStatusError")
def _():
    broke = openai.OpenAI(base_url=BASE, api_key=BROKE_KEY, max_retries=0)
    try:
        broke.chat.completions.create(model=SMALL, messages=[{"role": "user", "content": "x"}])
    except openai.APIStatusError as e:
        assert e.status_code == 402, e.status_code
        assert e.code == "insufficient_credits", e.code
    else:
        raise AssertionError("no error")


@check("upstream failure raises InternalServerError naming the provider")
def _():
    try:
        client.chat.completions.create(
            model=SMALL, messages=[{"role": "user", "content": "[mock:status 503]"}]
        )
    except openai.InternalServerError as e:
        assert e.status_code == 502, e.status_code
        assert "the provider `" in e.message, e.message
    else:
        raise AssertionError("no error")


report()
