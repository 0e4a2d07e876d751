"""The official OpenAI Python SDK against a running Tollgate (mock provider).

Environment: TOLLGATE_URL (http://host:port), TOLLGATE_KEY (a demo gateway key with credits),
TOLLGATE_BROKE_KEY (a gateway key with no credits left). Prints one line per check and a
closing "N passed, M failed" line; exits non-zero on any failure.
"""

import os

import openai

from harness import check, report

BASE = os.environ["TOLLGATE_URL"].rstrip("/") + "/v1"
KEY = os.environ["TOLLGATE_KEY"]
BROKE_KEY = os.environ["TOLLGATE_BROKE_KEY"]

client = openai.OpenAI(base_url=BASE, api_key=KEY, max_retries=0)


@check("non-streaming chat completion")
def _():
    r = client.chat.completions.create(
        model="mock-small", messages=[{"role": "user", "content": "Hello from the SDK"}]
    )
    text = r.choices[0].message.content
    assert text.endswith("You said: Hello from the SDK"), text
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0


@check("streaming chat completion with include_usage")
def _():
    stream = client.chat.completions.create(
        model="mock-large",
        messages=[{"role": "user", "content": "stream it"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("You said: stream it"), text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


@check("streaming without usage")
def _():
    chunks = list(
        client.chat.completions.create(
            model="mock-small", messages=[{"role": "user", "content": "x"}], stream=True
        )
    )
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


@check("output limit gives finish_reason length")
def _():
    r = client.chat.completions.create(
        model="mock-small", messages=[{"role": "user", "content": "a long answer"}], max_tokens=2
    )
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 2


@check("model list")
def _():
    ids = [m.id for m in client.models.list()]
    assert ids == ["mock-small", "mock-large", "mock-embed"], ids


@check("embeddings, as the SDK asks for them (base64) and as floats")
def _():
    r = client.embeddings.create(model="mock-embed", input=["same", "other", "same"])
    vectors = [d.embedding for d in r.data]
    assert len(vectors) == 3 and len(vectors[0]) == 256, len(vectors[0])
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    assert abs(sum(x * x for x in vectors[0]) - 1.0) < 1e-3
    floats = client.embeddings.create(model="mock-embed", input="same", encoding_format="float")
    assert all(abs(a - b) < 1e-6 for a, b in zip(floats.data[0].embedding, vectors[0]))
    assert r.usage.prompt_tokens > 0


@check("bad key raises AuthenticationError")
def _():
    bad = openai.OpenAI(base_url=BASE, api_key="tg_gw_" + "x" * 40, max_retries=0)
    try:
        bad.chat.completions.create(model="mock-small", messages=[{"role": "user", "content": "x"}])
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
        assert "mock-small" in e.message, e.message
    else:
        raise AssertionError("no error")


@check("exhausted credits raise a 402 APIStatusError")
def _():
    broke = openai.OpenAI(base_url=BASE, api_key=BROKE_KEY, max_retries=0)
    try:
        broke.chat.completions.create(model="mock-small", messages=[{"role": "user", "content": "x"}])
    except openai.APIStatusError as e:
        assert e.status_code == 402, e.status_code
        assert e.code == "insufficient_credits", e.code
    else:
        raise AssertionError("no error")


@check("upstream failure raises InternalServerError naming the provider")
def _():
    try:
        client.chat.completions.create(
            model="mock-small", messages=[{"role": "user", "content": "[mock:status 503]"}]
        )
    except openai.InternalServerError as e:
        assert e.status_code == 502, e.status_code
        assert "mock" in e.message, e.message
    else:
        raise AssertionError("no error")


report()
