"""The OpenAI Realtime schema: records, the GA/beta wire codec and server rules.

Pure: imports attrs, pyrsistent and optstate's core only (never the ``openai``
package, which the tests use to validate what this module produces).
"""

from .._codec import Refusal
from .._unknown import Unknown
from ._codec import OpenAICodec
from ._keywords import PLUGIN_KEYWORDS
from ._rules import refusals
from ._schema import (
    Audio,
    AudioInput,
    AudioOutput,
    AudioPCM,
    AudioPCMA,
    AudioPCMU,
    FunctionTool,
    McpTool,
    NoiseReduction,
    Prompt,
    RealtimeOptions,
    Reasoning,
    RetentionRatio,
    SemanticVad,
    ServerVad,
    TokenLimits,
    ToolChoiceFunction,
    ToolChoiceMcp,
    TracingConfig,
    Transcription,
    VoiceId,
)
from ._values import to_json
from ._wire import Dialect, decode, decode_update, encode, encode_session

__all__ = [
    "PLUGIN_KEYWORDS",
    "Audio",
    "AudioInput",
    "AudioOutput",
    "AudioPCM",
    "AudioPCMA",
    "AudioPCMU",
    "Dialect",
    "FunctionTool",
    "McpTool",
    "NoiseReduction",
    "OpenAICodec",
    "Prompt",
    "RealtimeOptions",
    "Reasoning",
    "Refusal",
    "RetentionRatio",
    "SemanticVad",
    "ServerVad",
    "TokenLimits",
    "ToolChoiceFunction",
    "ToolChoiceMcp",
    "TracingConfig",
    "Transcription",
    "Unknown",
    "VoiceId",
    "decode",
    "decode_update",
    "encode",
    "encode_session",
    "refusals",
    "to_json",
]

# Public classes report the public module, in reprs, pickles and docs
# (``optstate.openai.RealtimeOptions``, not ``optstate.openai._schema.RealtimeOptions``).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith(__name__ + "."):
        _obj.__module__ = __name__
del _name, _obj
