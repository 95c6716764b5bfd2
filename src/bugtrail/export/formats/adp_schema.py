"""The Agent Data Protocol's standardized trajectory, as Pydantic models written from its specification.

Specification: neulab/agent-data-protocol, schema/SCHEMA.md with schema/version.py SCHEMA_VERSION "1.5.0"
(read 2026-11). Only the content types bugtrail emits are modelled (ApiAction, CodeAction, MessageAction,
TextObservation), each with the spec's fields; the rules are the spec's: unknown fields rejected,
`class_` fixed per type, and tool-call links checked (a tool action followed by an observation carries a
`tool_call_id`, every such id is answered by exactly one later observation, observations link only to an
earlier action, message actions are never tool calls, a tool result never has source "user"), and
`available_code_languages`, when given, names exactly the code actions' languages.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ADP_SCHEMA_VERSION: Final = "1.5.0"

# The spec allows ~300 languages; bugtrail's commands are shell command lines.
CodeLanguage = Literal["bash"]


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_call_id: str | None = Field(
        default=None,
        description="links a tool action and its one result",
        exclude_if=lambda value: value is None,
    )
    reward: float | None = Field(default=None, description="per-step reward")


class _Action(_Item):
    reasoning_content: str | None = Field(default=None, description="the thinking behind the action")


class ApiAction(_Action):
    class_: Literal["api_action"] = "api_action"
    function: str = Field(min_length=1)
    kwargs: dict[str, Any]
    description: str | None = None


class CodeAction(_Action):
    class_: Literal["code_action"] = "code_action"
    language: CodeLanguage
    content: str
    description: str | None  # required by the spec, may be null


class MessageAction(_Action):
    class_: Literal["message_action"] = "message_action"
    content: str
    description: str | None = None


class TextObservation(_Item):
    class_: Literal["text_observation"] = "text_observation"
    content: str
    source: Literal["user", "agent", "environment"]


ContentItem = Annotated[
    ApiAction | CodeAction | MessageAction | TextObservation, Field(discriminator="class_")
]


class Trajectory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["1.5.0"] = ADP_SCHEMA_VERSION
    id: str = Field(min_length=1)
    content: list[ContentItem]
    available_custom_tools: list[str] | None = Field(default=None, exclude_if=lambda value: value is None)
    available_code_languages: list[str] | None = Field(default=None, exclude_if=lambda value: value is None)
    details: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _tool_call_links(self) -> Trajectory:
        calls: dict[str, int] = {}
        answered: dict[str, int] = {}
        for index, item in enumerate(self.content):
            following = self.content[index + 1] if index + 1 < len(self.content) else None
            is_call = isinstance(item, ApiAction | CodeAction)
            if is_call and isinstance(following, TextObservation) and item.tool_call_id is None:
                raise ValueError(
                    f"content[{index}]: a tool action followed by its result needs a tool_call_id"
                )
            call_id = item.tool_call_id
            if call_id is None:
                continue
            if isinstance(item, MessageAction):
                raise ValueError(f"content[{index}]: a message action is not a tool call (tool_call_id set)")
            if is_call:
                if call_id in calls:
                    raise ValueError(
                        f"content[{index}]: duplicate tool_call_id {call_id!r} (also {calls[call_id]})"
                    )
                calls[call_id] = index
                continue
            assert isinstance(item, TextObservation)
            if call_id not in calls:
                raise ValueError(f"content[{index}]: tool_call_id {call_id!r} answers no earlier action")
            if call_id in answered:
                raise ValueError(f"content[{index}]: a second result for tool_call_id {call_id!r}")
            if item.source == "user":
                raise ValueError(f"content[{index}]: a tool result must not have source 'user'")
            answered[call_id] = index
        unanswered = [call_id for call_id in calls if call_id not in answered]
        if unanswered:
            raise ValueError(f"tool calls without a result: {unanswered}")
        return self

    @model_validator(mode="after")
    def _code_languages(self) -> Trajectory:
        if self.available_code_languages is not None:
            used = {item.language for item in self.content if isinstance(item, CodeAction)}
            if set(self.available_code_languages) != used:
                raise ValueError(
                    f"available_code_languages {sorted(self.available_code_languages)} must equal the code "
                    f"actions' languages {sorted(used)}"
                )
        return self
