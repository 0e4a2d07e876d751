"""The official Anthropic Python SDK against a running Tollgate (mock provider).

Environment as for openai_compat.py. Prints one line per check and a closing
"N passed, M failed" line; exits non-zero on any failure.
"""

import os

import anthropic

from harness import check, report

BASE = os.environ["TOLLGATE_URL"].rstrip("/")
KEY = os.environ["TOLLGATE_KEY"]
BROKE_KEY = os.environ["TOLLGATE_BROKE_KEY"]

client = anthropic.Anthropic(base_url=BASE, api_key=KEY, max_retries=0)


@check("message")
def _():
    m = client.messages.create(
        model="mock-large",
        max_tokens=64,
        system="be brief",
        messages=[{"role": "user", "content": "Hello from the Anthropic SDK"}],
    )
    assert m.type == "message" and m.role == "assistant"
    assert m.content[0].text.endswith("You said: Hello from the Anthropic SDK"), m.content[0].text
    assert m.stop_reason == "end_turn"
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0


@check("streamed message")
def _():
    with client.messages.stream(
        model="mock-small", max_tokens=64, messages=[{"role": "user", "content": "stream it"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.endswith("You said: stream it"), text
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


@check("max_tokens reached")
def _():
    m = client.messages.create(
        model="mock-small", max_tokens=2, messages=[{"role": "user", "content": "a long answer"}]
    )
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 2


@check("bad key raises AuthenticationError")
def _():
    bad = anthropic.Anthropic(base_url=BASE, api_key="tg_gw_" + "x" * 40, max_retries=0)
    try:
        bad.messages.create(model="mock-small", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    except anthropic.AuthenticationError:
        pass
    else:
        raise AssertionError("no error")


@check("unknown model raises NotFoundError")
def _():
    try:
        client.messages.create(model="claude-9", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    except anthropic.NotFoundError as e:
        assert "mock-small" in str(e), str(e)
    else:
        raise AssertionError("no error")


@check("exhausted credits raise a 402 APIStatusError")
def _():
    broke = anthropic.Anthropic(base_url=BASE, api_key=BROKE_KEY, max_retries=0)
    try:
        broke.messages.create(model="mock-small", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    except anthropic.APIStatusError as e:
        assert e.status_code == 402, e.status_code
    else:
        raise AssertionError("no error")


report()
