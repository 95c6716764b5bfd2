"""A ChatML chat template with tool calls (the Qwen/Hermes style many SFT trainers use), rendered with
jinja2 like transformers' apply_chat_template, and the structural checks trainers rely on.

The template itself refuses an illegal conversation (raise_exception, as Hugging Face templates do): the
first turn must be the user's, a tool message must answer the pending call of the assistant turn just
before it, and an assistant turn may not start while a call is unanswered.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

CHATML_TOOLS = """
{%- if tools %}<|im_start|>system
You can call these tools:
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools><|im_end|>
{% endif %}
{%- set state = namespace(pending=none, last=none) %}
{%- for message in messages %}
  {%- if loop.first and message.role != 'user' %}{{ raise_exception('user goes first') }}{% endif %}
  {%- if message.role == 'user' %}
    {%- if state.pending %}{{ raise_exception('user turn while a tool call is unanswered') }}{% endif %}
<|im_start|>user
{{ message.content }}<|im_end|>
  {%- elif message.role == 'assistant' %}
    {%- if state.pending %}{{ raise_exception('assistant turn while a tool call is unanswered') }}{% endif %}
    {%- if state.last == 'assistant' %}{{ raise_exception('two assistant turns in a row') }}{% endif %}
<|im_start|>assistant
{{ message.content or '' }}
    {%- if message.tool_calls %}
      {%- if message.tool_calls | length != 1 %}{{ raise_exception('one call per turn') }}{% endif %}
      {%- set call = message.tool_calls[0] %}
<tool_call>
{"name": {{ call.function.name | tojson }}, "arguments": {{ call.function.arguments }}}
</tool_call>
      {%- set state.pending = call.id %}
    {%- endif %}<|im_end|>
  {%- elif message.role == 'tool' %}
    {%- if not state.pending or message.tool_call_id != state.pending %}
      {{- raise_exception('tool message does not answer the pending call') }}
    {%- endif %}
    {%- set state.pending = none %}
<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
  {%- else %}{{ raise_exception('unknown role ' ~ message.role) }}
  {%- endif %}
  {%- set state.last = message.role %}
{%- endfor %}
{%- if state.pending %}{{ raise_exception('the last tool call is unanswered') }}{% endif %}
"""


class TemplateError(Exception):
    pass


def _raise(message: str) -> None:
    raise TemplateError(message)


_ENV = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
_ENV.globals["raise_exception"] = _raise
_TEMPLATE = _ENV.from_string(CHATML_TOOLS)


def render_chatml(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> str:
    return _TEMPLATE.render(messages=messages, tools=tools)


def check_conversation(messages: list[dict[str, Any]]) -> None:
    """The structural rules, in Python (what the template enforces, plus the OpenAI message shapes)."""
    assert messages and messages[0]["role"] == "user", "starts with the user turn"
    assert [m["role"] for m in messages].count("user") == 1, "one user turn: the bug"
    pending: str | None = None
    seen: set[str] = set()
    previous = "user"
    for index, message in enumerate(messages[1:], start=1):
        role = message["role"]
        assert set(message) == {"role", "content", "tool_calls", "tool_call_id"}, f"messages[{index}] keys"
        if role == "assistant":
            assert pending is None and previous != "assistant", f"messages[{index}]: illegal assistant turn"
            assert message["tool_call_id"] is None
            calls = message["tool_calls"] or []
            assert len(calls) <= 1
            if calls:
                call = calls[0]
                assert call["type"] == "function" and call["id"] not in seen
                assert isinstance(json.loads(call["function"]["arguments"]), dict)
                pending = call["id"]
                seen.add(call["id"])
            else:
                assert message["content"], f"messages[{index}]: an assistant turn says or calls something"
        elif role == "tool":
            assert pending is not None and message["tool_call_id"] == pending, f"messages[{index}] answers"
            assert message["tool_calls"] is None and isinstance(message["content"], str)
            pending = None
        else:
            raise AssertionError(f"messages[{index}]: unexpected role {role}")
        previous = role
    assert pending is None, "every tool call has its result"
