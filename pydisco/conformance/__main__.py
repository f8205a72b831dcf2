"""``python -m pydisco.conformance``: print the rule table of ``protocol-spec/conformance.md``."""

from pydisco.conformance.rules import rules_markdown

print(rules_markdown(), end="")
