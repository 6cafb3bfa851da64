"""What a username is: the one normalisation every path applies, and the key
that decides which names are the same account.

Registration, log-in (API, admin, createsuperuser), the log-in rate limits and
the unique index all go through these two functions, so no two spellings of
one name count apart anywhere:

- `username_normalise` gives the name as stored and shown: characters that
  render as nothing removed (zero-width spaces and joiners, bidi controls,
  soft hyphens: Unicode's Default_Ignorable_Code_Point), NFKC (full-width
  letters become plain ones), surrounding whitespace of any kind stripped.
- `username_key` gives what makes two names one: the normalised name, case
  folded, reduced to its confusable skeleton (Unicode Technical Standard #39,
  with Unicode's confusables data), so `admin`, `ADMIN`, and `admin` spelt
  with a Cyrillic a (U+0430), a dotless i (U+0131) or, in capitals, a dotted
  I (U+0130) share one key. The key is for comparing, never for showing.
"""

import re
import unicodedata
from collections import defaultdict
from functools import cache

from confusable_homoglyphs.confusables import confusables_data  # type: ignore[import-untyped]

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters
# that render as nothing, so a name with one looks exactly like the name without.
# Those up to U+FFFF as a regex class body, for the schema's pattern too.
IGNORABLE_BMP = (
    r"\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    r"\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0"
)
_IGNORABLE = re.compile(
    f"[{IGNORABLE_BMP}\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# A dot above i or j (which carry a dot already) adds nothing visible: the
# case folding of `İ` is `i` followed by one.
_DOT_ON_DOTTED = re.compile("(?<=[ij])\u0307")
# confusables_data keeps the marks that confusables.txt writes around
# right-to-left characters; they are not part of the characters.
_DIRECTION_MARKS = "\u200e\u200f"


def username_normalise(username: str) -> str:
    """The name as stored and shown (see the module docstring)."""
    visible = _IGNORABLE.sub("", username)
    return unicodedata.normalize("NFKC", visible).strip()


def username_key(username: str) -> str:
    """What makes two usernames the same account (see the module docstring).

    Computed in Python, not by the database: SQLite's LOWER() folds ASCII only.
    """
    return _DOT_ON_DOTTED.sub("", _skeleton(username_fold(username)))


def username_fold(username: str) -> str:
    """The normalised name in any letter case (NFKC_Casefold): one spelling."""
    folded = unicodedata.normalize("NFKC", username_normalise(username).casefold())
    # Case folding can produce characters NFKC changes again.
    return unicodedata.normalize("NFKC", folded.casefold())


def _skeleton(text: str) -> str:
    """UTS #39's skeleton: every character replaced by its prototype, in NFD."""
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(table.get(char, char) for char in decomposed))


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character and the prototype it looks like.

    confusables.txt maps each confusable character to one prototype (a
    character or a short sequence: `m` looks like `rn`); confusable-homoglyphs
    ships those pairs in both directions. A character with a sequence for a
    look-alike maps to it; characters that look alike one for one form groups,
    each mapped to its smallest member (Cyrillic a, Latin alpha, Greek alpha... to `a`). Two names
    have one skeleton exactly when UTS #39 calls them confusable.
    """
    parent: dict[str, str] = {}

    def root(char: str) -> str:
        while parent.get(char, char) != char:
            char = parent[char]
        return char

    sequences: dict[str, str] = {}
    for char, look_alikes in confusables_data.items():
        if len(char) != 1:
            continue
        for entry in look_alikes:
            other = entry["c"].strip(_DIRECTION_MARKS)
            if len(other) == 1:
                first, second = sorted((root(char), root(other)))
                parent[second] = first
            elif other:
                sequences[char] = other
    groups: dict[str, list[str]] = defaultdict(list)
    for char in {*parent, *sequences}:
        groups[root(char)].append(char)
    table: dict[str, str] = {}
    for smallest, members in groups.items():
        sequence = next((sequences[char] for char in sorted(members) if char in sequences), None)
        for char in members:
            table[char] = smallest if sequence is None else sequence
    # A sequence's own characters may have prototypes too (in one pass, as UTS #39 does).
    for char, prototype in table.items():
        if len(prototype) > 1:
            table[char] = "".join(root(part) for part in prototype)
    return {char: prototype for char, prototype in table.items() if char != prototype}
