"""Every rule the conformance kit checks, defined once.

A rule has a short stable id (``HS-1``), a one-line title, the section of
``protocol-spec/README.md`` that states it, and the profiles it applies to.
Ids never change meaning; a retired rule keeps its id unused. The rule table
in ``protocol-spec/conformance.md`` is generated from :data:`RULES`
(:func:`rules_markdown`), and a test checks that it is up to date.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

import attrs

from pydisco.protocol.session import Profile

__all__ = [
    "BOTH",
    "GROUPS",
    "RULES",
    "RULES_BY_ID",
    "Rule",
    "Verdict",
    "rules_markdown",
]

#: Both profiles.
BOTH: Final = (Profile.DISCO_054, Profile.SPEC)
_SPEC: Final = (Profile.SPEC,)
_DISCO: Final = (Profile.DISCO_054,)


class Verdict(str, enum.Enum):
    """What the kit concluded about one rule."""

    PASS = "pass"
    FAIL = "fail"
    #: The worker never did what the rule is about (it is not a pass).
    NOT_EXERCISED = "not exercised"


@attrs.frozen(slots=True)
class Rule:
    """One checked rule of the worker protocol."""

    id: str
    title: str
    #: Anchor of the section of ``protocol-spec/README.md`` that states the rule.
    section: str
    profiles: tuple[Profile, ...] = BOTH

    @property
    def group(self) -> str:
        """The rule's group, the part of its id before the dash."""
        return self.id.split("-", 1)[0]

    def applies_to(self, profile: Profile) -> bool:
        """Whether the rule is judged under ``profile``."""
        return profile in self.profiles


#: Group prefix -> what the group is about.
GROUPS: Final[Mapping[str, str]] = {
    "HS": "handshake",
    "FR": "framing",
    "SQ": "message order",
    "IN": "inputs",
    "RP": "replicas",
    "OUT": "outputs",
    "END": "ending a task",
    "MSG": "MSG rate limit",
    "EOF": "stdin closed",
}

RULES: Final[tuple[Rule, ...]] = (
    Rule("HS-1", "WORKER is the first message", "rules", _SPEC),
    Rule("HS-2", 'WORKER announces version "1.1"', "messages"),
    Rule(
        "HS-3",
        "WORKER's pid is the started process or one of its descendants",
        "the-worker-process",
    ),
    Rule("HS-4", "The first message arrives within the time limit", "timeouts"),
    Rule("FR-1", "Every frame's length field is its payload's exact byte count", "senders"),
    Rule("FR-2", "Nothing but frames of known messages on stdout and stderr", "stray-output"),
    Rule("FR-3", "Every payload is JSON of the message's shape", "messages"),
    Rule("SQ-1", "TASK is answered before INPUT, INPUT_ERR, OUTPUT or DONE", "rules", _SPEC),
    Rule("SQ-2", "The worker waits for each reply before sending again", "rules", _SPEC),
    Rule("SQ-3", "No PING (an unknown, fatal message to Disco 0.5.4)", "rules", _DISCO),
    Rule("IN-1", "raw:// inputs are read verbatim", "url-schemes"),
    Rule("IN-2", "http:// inputs are read", "url-schemes"),
    Rule("IN-3", "disco:// inputs on this node are read", "url-schemes"),
    Rule("IN-4", "dir:// inputs: only the index lines with the input's label", "dir-indexes"),
    Rule("IN-5", 'dir:// inputs labelled "all": every index line', "dir-indexes"),
    Rule("IN-6", "10,000 inputs in one INPUT reply are all read", "replies"),
    Rule("IN-7", 'After "more", the worker asks again until "done"', "listing-inputs"),
    Rule("IN-8", "No input is processed twice", "listing-inputs"),
    Rule("IN-9", "Outputs hold only data read from the inputs", "conformance"),
    Rule("RP-1", "A failed replica falls back to another replica", "replica-fallback"),
    Rule("RP-2", "INPUT_ERR names the input and only its replicas", "replica-fallback"),
    Rule("RP-3", "When every replica fails, the task ends with ERROR", "replica-fallback"),
    Rule("OUT-1", "An output location is not an absolute path", "local-outputs"),
    Rule("OUT-2", "A local location's first segment contains no ':'", "local-outputs"),
    Rule("OUT-3", "A local output is a file inside the job home", "local-outputs"),
    Rule("OUT-4", "The reported size is the file's size", "outputs"),
    Rule("OUT-5", "Output label and size are non-negative", "outputs"),
    Rule("OUT-6", "Each output once, and none under .disco/", "local-outputs"),
    Rule("END-1", "The task run ends with the right closing message", "ending-a-task"),
    Rule("END-2", "Nothing is sent after DONE, ERROR or FATAL", "rules"),
    Rule("END-3", "After DONE, ERROR or FATAL the worker exits when stdin closes", "rules"),
    Rule("MSG-1", "MSGs stay under the master's fatal rate limit", "msg-throttle"),
    Rule("EOF-1", "The worker exits promptly when stdin is closed", "the-worker-process"),
)

RULES_BY_ID: Final[Mapping[str, Rule]] = {rule.id: rule for rule in RULES}

_PROFILE_NAMES: Final = {BOTH: "both", _SPEC: "spec", _DISCO: "disco-0.5.4"}


def rules_markdown(*, in_spec: bool = False) -> str:
    """The rule table of ``protocol-spec/conformance.md``, or of the spec's own README.

    ``in_spec`` builds the copy in ``protocol-spec/README.md``, whose links to
    its sections are local and whose link to the kit's reference behaviour
    points at ``conformance.md``.
    """
    spec, kit = ("", "conformance.md") if in_spec else ("README.md", "")
    lines = ["| Id | Rule | Profiles | Spec section |", "|---|---|---|---|"]
    for rule in RULES:
        profiles = _PROFILE_NAMES[rule.profiles]
        link = f"[{rule.section}]({spec}#{rule.section})"
        if rule.section == "conformance":
            link = f"[reference behaviour]({kit}#the-reference-behaviour)"
        lines.append(f"| `{rule.id}` | {rule.title} | {profiles} | {link} |")
    return "\n".join(lines) + "\n"
