"""The official Anthropic Python SDK against a running Tollgate.

Environment as for openai_compat.py; message checks run once per chat model, so a model whose
provider speaks the OpenAI API checks the translation. Prints one line per check and a closing
"N passed, M failed" line; exits non-zero on any failure.
"""

import os

import anthropic

from harness import check, report

BASE = os.environ["TOLLGATE_TEST_URL"].rstrip("/")
KEY = os.environ["TOLLGATE_TEST_KEY"]
BROKE_KEY = os.environ["TOLLGATE_TEST_BROKE_KEY"]
LIMITED_KEY = os.environ["TOLLGATE_TEST_LIMITED_KEY"]

CHAT_MODELS = os.environ.get("TOLLGATE_TEST_CHAT_MODELS", "mock-small,mock-large").split(",")
SMALL = CHAT_MODELS[0]
LARGE = CHAT_MODELS[-1]

client = anthropic.Anthropic(base_url=BASE, api_key=KEY, max_retries=0)

WEATHER = [
    {
        "name": "weather",
        "description": "The forecast for a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]


for model in CHAT_MODELS:

    @check(f"{model}: message")
    def _():
        m = client.messages.create(
            model=model,
            max_tokens=64,
            system="be brief",
            messages=[{"role": "user", "content": "Hello from the Anthropic SDK"}],
        )
        assert m.type == "message" and m.role == "assistant"
        assert m.content[0].text.endswith("You said: Hello from the Anthropic SDK"), m.content[0].text
        assert m.stop_reason == "end_turn"
        assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0

    @check(f"{model}: streamed message")
    def _():
        with client.messages.stream(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "stream it"}]
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text.endswith("You said: stream it"), text
        assert final.content[0].text == text
        assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0

    @check(f"{model}: max_tokens reached")
    def _():
        m = client.messages.create(
            model=model, max_tokens=2, messages=[{"role": "user", "content": "a long answer"}]
        )
        assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 2

    @check(f"{model}: tool use, then its result")
    def _():
        ask = [{"role": "user", "content": "Paris"}]
        m = client.messages.create(model=model, max_tokens=100, tools=WEATHER, messages=ask)
        assert m.stop_reason == "tool_use", m
        use = next(b for b in m.content if b.type == "tool_use")
        assert use.name == "weather" and use.input == {"city": "Paris"}, use
        follow = ask + [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21 C"}]},
        ]
        m = client.messages.create(model=model, max_tokens=100, tools=WEATHER, messages=follow)
        assert m.content[0].text == "The tool answered: sunny, 21 C", m

    @check(f"{model}: tool use, streamed")
    def _():
        with client.messages.stream(
            model=model, max_tokens=100, tools=WEATHER, messages=[{"role": "user", "content": "Oslo"}]
        ) as stream:
            final = stream.get_final_message()
        use = next(b for b in final.content if b.type == "tool_use")
        assert use.input == {"city": "Oslo"}, use
        assert final.stop_reason == "tool_use"


@check("bad key raises AuthenticationError")
def _():
    bad = anthropic.Anthropic(base_url=BASE, api_key="tg_gw_" + "x" * 40, max_retries=0)
    try:
        bad.messages.create(model=SMALL, max_tokens=5, messages=[{"role": "user", "content": "x"}])
    except anthropic.AuthenticationError:
        pass
    else:
        raise AssertionError("no error")


@check("unknown model raises NotFoundError")
def _():
    try:
        client.messages.create(model="claude-9", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    except anthropic.NotFoundError as e:
        assert SMALL in str(e), str(e)
    else:
        raise AssertionError("no error")


@check("a model the key may not call raises PermissionDeniedError")
def _():
    limited = anthropic.Anthropic(base_url=BASE, api_key=LIMITED_KEY, max_retries=0)
    try:
        limited.messages.create(model=LARGE, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    except anthropic.PermissionDeniedError as e:
        assert e.status_code == 403, e.status_code
        assert SMALL in e.message, e.message
    else:
        raise AssertionError("no error")


@check("exhausted credits raise a 402 APIStatusError")
def _():
    broke = anthropic.Anthropic(base_url=BASE, api_key=BROKE_KEY, max_retries=0)
    try:
        broke.messages.create(model=SMALL, max_tokens=5, messages=[{"role": "user", "content": "x"}])
    except anthropic.APIStatusError as e:
        assert e.status_code == 402, e.status_code
    else:
        raise AssertionError("no error")


report()
