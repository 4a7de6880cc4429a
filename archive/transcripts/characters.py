"""One character policy for the vault's door and every output, and the folding of each character
in which names are compared.

**The door.** A field is refused, naming it and the line and column, when it holds a code point
that some output would drop or change, because a name split by it would be matched in pieces
and then released whole: control characters other than tab and newline, lone surrogates (not
text; PostgreSQL and UTF-8 refuse them) and Unicode's noncharacters (U+FDD0..U+FDEF and the last
two code points of every plane: XML cannot hold U+FFFE and U+FFFF, and its writer drops them).
Windows and old Mac line ends become newlines. (Line and paragraph separators, U+2028 and
U+2029, are kept: outputs that change them make them spaces or line breaks, which split a word
as they do, never join one.)

**Invisible characters.** What an output keeps but a reader never sees, every default-ignorable
code point (the whole Unicode property, assigned or not: zero-width spaces and joiners, bidi
controls, variation selectors, tag characters, Hangul fillers, U+2065, U+E0080...), is kept as
written and ignored when names are compared, as a browser or a caption player draws the name
whole across it.

**Folding a character** (the unit of `archive.transcripts.names.fold`), in this order:

1. compatibility decomposition (NFKD: full-width letters, ligatures, mathematical letters);
2. invisible characters and combining marks dropped (accents: ``José`` is ``Jose``);
3. keyboard variants of one letter written alike: Persian and Arabic yeh and kaf, teh
   marbuta, Hebrew final letters; the Arabic tatweel dropped; apostrophe-like letters
   (``ʼ ʻ ʿ``) read as an apostrophe;
4. look-alike letters read as the letter they are drawn like, **before case folding**: a Greek
   capital Nu is an N, not the Latin v its small form folds to. The table is Unicode's own
   (UTS #39 confusables, `data/confusables.tsv`), applied to letters and symbols that map to
   letters only (a Cyrillic ze is not read as the digit 3), and to every code point outside
   ASCII: what is typed on a Latin keyboard is compared as typed (an ``I`` is not an ``l``). A
   capital drawn like an ``I`` is an I. A small letter of a script with capitals (Greek,
   Cyrillic...) is read as its capital is drawn, so that the capital and small forms of a name
   in that script stay one name (a Greek ``ν`` is read as an N, like ``Ν``, not as the v it
   resembles). Letters Unicode names as forms of a Latin letter but does
   not list there (small capitals, negative circled and squared letters, regional indicators)
   are read as that letter. Only Latin prototypes are used: the confusion that hides a name
   is with the script it is written in, and reading other scripts' letters as each other's
   (Hangul jamo as ideographs) would cut their words apart;
5. full case folding (``ß`` is ``ss``, ``İ`` is ``i``), then steps 1-2 again, and a few letters
   that transliteration writes plain (``ı ł ø đ æ œ``...).

The result is folded again until it no longer changes, so folding is idempotent.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources

# Default_Ignorable_Code_Point, from Unicode 17.0's DerivedCoreProperties.txt (the property's
# ranges are reserved ahead: unassigned code points in them are ignorable too).
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
_IGNORABLE = re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in DEFAULT_IGNORABLE) + "]")
# Categories that fold to nothing as well: combining marks and format characters.
_MARKS = frozenset({"Mn", "Mc", "Me", "Cf"})
NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane | 0xFFFE)}{chr(plane | 0xFFFF)}" for plane in range(0, 0x110000, 0x10000))
# Refused at the door: controls but tab and newline (line ends are made newlines first), lone
# surrogates, noncharacters. (Two searches: one class mixing these ranges with the astral
# noncharacters is eight times slower in `re`.)
UNACCEPTED = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff{NONCHARACTERS}]")
_UNACCEPTED_BMP = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_UNACCEPTED_ASTRAL = re.compile("[" + NONCHARACTERS[len("\ufdd0-\ufdef") + 2 :] + "]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")

# One letter typed on different keyboards, and letters a writer uses for an apostrophe.
VARIANTS = str.maketrans({
    "\u064a": "\u0649", "\u06cc": "\u0649", "\u06d0": "\u0649",  # Arabic, Persian yeh -> alef maksura
    "\u0643": "\u06a9", "\u06aa": "\u06a9",  # Arabic kaf, swash kaf -> keheh (Persian kaf)
    "\u0629": "\u0647", "\u06c0": "\u0647", "\u06d5": "\u0647",  # teh marbuta and ae -> heh
    "\u0640": None,  # tatweel, the Arabic letter-stretching stroke
    "\u05da": "\u05db", "\u05dd": "\u05de", "\u05df": "\u05e0", "\u05e3": "\u05e4", "\u05e5": "\u05e6",  # Hebrew finals
    "\u02b9": "'", "\u02bb": "'", "\u02bc": "'", "\u02bd": "'", "\u02be": "'", "\u02bf": "'", "\u0559": "'",
    "\ua78b": "'", "\ua78c": "'", "\u02c8": "'", "\u2032": "'",
})
# Letters with no Unicode decomposition that transliteration writes plain.
_PLAIN = str.maketrans({"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae",
                        "œ": "oe", "ħ": "h", "ŀ": "l", "ŧ": "t", "ĸ": "k"})
# A Latin letter in another form, by its Unicode name: LATIN LETTER SMALL CAPITAL N, NEGATIVE
# CIRCLED LATIN CAPITAL LETTER N, REGIONAL INDICATOR SYMBOL LETTER N.
_NAMED_LETTER = re.compile(r"\b(?:LATIN(?: [A-Z]+)*? LETTER(?: SMALL CAPITAL)?|SYMBOL LETTER) ([A-Z])$")


def clean(value: str) -> tuple[str, int | None]:
    """A field's text with its line ends made newlines, and the offset of the first code point
    the archive refuses (None when there is none)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    searches = (_UNACCEPTED_BMP, _UNACCEPTED_ASTRAL) if _ASTRAL.search(value) else (_UNACCEPTED_BMP,)
    found = [bad.start() for bad in (search.search(value) for search in searches) if bad]
    return value, min(found) if found else None


def ignorable(char: str) -> bool:
    """Whether a character is dropped when names are compared: default-ignorable (invisible),
    a combining mark or a format character."""
    return bool(_IGNORABLE.match(char)) or unicodedata.category(char) in _MARKS


@cache
def _confusables() -> dict[str, str]:
    table = {}
    data = resources.files("archive").joinpath("data/confusables.tsv").read_text(encoding="utf-8")
    for line in data.splitlines():
        if line and not line.startswith("#"):
            source, prototype = line.split("\t")
            table[chr(int(source, 16))] = "".join(chr(int(p, 16)) for p in prototype.split())
    return table


def _latin(text: str) -> bool:
    """Whether a prototype is Latin letters (read as Latin: the confusion that hides a name is
    with the script it is written in, and mapping other scripts' letters onto each other, Hangul
    jamo onto ideographs, would cut their words apart)."""
    letters = [c for c in unicodedata.normalize("NFKD", text) if not ignorable(c)]
    return bool(letters) and all(c.isascii() and c.isalpha() or unicodedata.name(c, "").startswith("LATIN")
                                 for c in letters)


def look_alike(char: str) -> str:
    """The letters a character outside ASCII is drawn like, if it is a letter or a symbol drawn
    like letters; otherwise the character itself."""
    if char.isascii() or unicodedata.category(char)[0] not in "LS":
        return char
    name = unicodedata.name(char, "")
    upper = char.upper()
    if not name.startswith("LATIN") and len(upper) == 1 and upper != char:
        # A small letter of another script is read as its capital is drawn, so that its capital
        # and small forms stay one letter (a Greek nu is an N, as its capital is).
        char, name = upper, unicodedata.name(upper, "")
    named = _NAMED_LETTER.search(name)
    if named:
        return named.group(1)
    prototype = _confusables().get(char)
    if prototype is None or not _latin(prototype):
        return char
    # The table's prototypes for m and I are "rn" and "l" (how they are drawn in most fonts).
    prototype = prototype.replace("rn", "m")
    if unicodedata.category(char) in ("Lu", "Lt") or "CAPITAL" in name:
        prototype = prototype.replace("l", "I")
    return prototype


def _fold_once(text: str) -> str:
    looked = []
    for char in unicodedata.normalize("NFKD", text):
        if ignorable(char):
            continue
        char = char.translate(VARIANTS)
        looked.append("".join(look_alike(c) for c in char))
    folded = unicodedata.normalize("NFKD", "".join(looked).casefold())
    return "".join(c for c in folded if not ignorable(c)).translate(_PLAIN)


def fold_char(char: str) -> str:
    """The folded form of one character (none, one or several characters)."""
    folded = char
    for _ in range(4):  # a look-alike's prototype may itself be drawn like another letter
        again = _fold_once(folded)
        if again == folded:
            break
        folded = again
    return folded
