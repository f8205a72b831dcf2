"""``python -m pydisco.conformance [--spec]``: print the conformance rule table.

Without arguments, the table of ``protocol-spec/conformance.md``; with ``--spec``,
the copy kept in ``protocol-spec/README.md``.
"""

import sys

from pydisco.conformance.rules import rules_markdown

print(rules_markdown(in_spec="--spec" in sys.argv[1:]), end="")
