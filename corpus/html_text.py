"""The text of an HTML page that a reader can see, cut into sections at its headings.

Hidden text must never reach the index: it is a classic way to smuggle
instructions to a language model past the human who checks the page. So this
reader applies the page's own CSS, the way a browser would for the properties
that decide whether text can be seen at all:

* the cascade of ``<style>`` blocks (selectors matched by soupsieve, the
  selector engine Beautiful Soup ships with; declarations parsed by tinycss2,
  which drops comments, so ``display:/**/none`` is ``display:none``), inline
  ``style`` attributes, ``!important`` and specificity;
* inherited text colour, background and font size, so white text on a white
  background or a 1px font is seen as unreadable wherever it was set;
* what hides an element and everything in it: ``display:none``,
  ``visibility:hidden``, ``opacity:0``, the ``hidden`` attribute,
  ``aria-hidden="true"``, positioning thousands of pixels off screen, a large
  negative ``text-indent``, zero width or height with ``overflow:hidden``,
  ``clip:rect(0 0 0 0)`` and zero-area ``clip-path``, ``transform:scale(0)``;
* SVG presentation attributes (``<text opacity="0">``, ``fill="none"``) and
  the old ``<font color>``/``bgcolor`` attributes.

Concessions: there is no layout engine, so text covered by another element,
or pushed off screen by a combination of sizes, is not detected; only colours
given as names, hex or ``rgb()`` are compared (anything else, and any
background image, counts as readable); a visible child of a
``visibility:hidden`` parent stays hidden; at most :data:`MAX_STYLE_RULES`
rules and :data:`MAX_SELECTOR_CHECKS` element checks of a page's style sheets
are applied; media queries are judged for a desktop window (:data:`VIEWPORT`);
external style sheets are never fetched.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import soupsieve
import tinycss2
from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag
from bs4.dammit import EncodingDetector

from corpus.documents import LocationKind
from corpus.reading import ExtractedText, Section, decode, tidy_title

MAX_STYLE_RULES = 2000
"""Rules matched per page; real pages' text-hiding rules come far earlier, and
matching costs time for every element."""
MAX_SELECTOR_CHECKS = 500_000
"""Element-against-selector checks per page, a bound on the time a hostile
style sheet can cost (about five seconds)."""

_DROPPED_TAGS = ("script", "style", "noscript", "template", "head", "title")
# Elements that start a new line, and those that start a new paragraph.
_LINE_TAGS = frozenset(
    {"br", "div", "li", "dt", "dd", "tr", "caption", "figcaption", "address", "legend"}
)
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "aside", "header",
     "footer", "main", "nav", "blockquote", "pre", "ul", "ol", "dl", "table", "figure",
     "form", "fieldset", "details", "summary", "hr"}
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")

# The properties that can make text unreadable, or undo what would.
_RELEVANT = frozenset(
    {"display", "visibility", "opacity", "font-size", "font", "color", "background",
     "background-color", "background-image", "position", "left", "top", "margin-left",
     "margin-top", "height", "max-height", "width", "max-width", "overflow", "overflow-x",
     "overflow-y", "text-indent", "clip", "clip-path", "transform", "fill", "fill-opacity"}
)  # fmt: skip
# SVG presentation attributes (and old HTML ones) read as the lowest-priority CSS.
_PRESENTATION_ATTRIBUTES = {
    "opacity": "opacity",
    "fill-opacity": "fill-opacity",
    "fill": "fill",
    "display": "display",
    "visibility": "visibility",
    "font-size": "font-size",
    "bgcolor": "background-color",
}

Rgba = tuple[float, float, float, float]
_WHITE: Rgba = (255.0, 255.0, 255.0, 1.0)
_BLACK: Rgba = (0.0, 0.0, 0.0, 1.0)
_NAMED_COLOURS: dict[str, Rgba] = {
    "black": _BLACK, "white": _WHITE, "transparent": (0.0, 0.0, 0.0, 0.0),
    "red": (255, 0, 0, 1), "green": (0, 128, 0, 1), "blue": (0, 0, 255, 1),
    "yellow": (255, 255, 0, 1), "gray": (128, 128, 128, 1), "grey": (128, 128, 128, 1),
    "silver": (192, 192, 192, 1), "navy": (0, 0, 128, 1), "maroon": (128, 0, 0, 1),
    "purple": (128, 0, 128, 1), "teal": (0, 128, 128, 1), "olive": (128, 128, 0, 1),
    "lime": (0, 255, 0, 1), "aqua": (0, 255, 255, 1), "fuchsia": (255, 0, 255, 1),
    "whitesmoke": (245, 245, 245, 1), "snow": (255, 250, 250, 1),
    "ivory": (255, 255, 240, 1), "ghostwhite": (248, 248, 255, 1),
    "floralwhite": (255, 250, 240, 1), "seashell": (255, 245, 238, 1),
    "linen": (250, 240, 230, 1), "azure": (240, 255, 255, 1),
    "mintcream": (245, 255, 250, 1), "honeydew": (240, 255, 240, 1),
    "aliceblue": (240, 248, 255, 1), "lightgray": (211, 211, 211, 1),
    "lightgrey": (211, 211, 211, 1), "darkgray": (169, 169, 169, 1),
}  # fmt: skip
_FONT_KEYWORDS = {
    "xx-small": 9.0, "x-small": 10.0, "small": 13.0, "medium": 16.0, "large": 18.0,
    "x-large": 24.0, "xx-large": 32.0, "xxx-large": 48.0,
}  # fmt: skip
_LENGTH = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(px|pt|pc|em|rem|ex|ch|%|vw|vh|in|cm|mm|q)?$")
_PX_PER_UNIT = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 37.8, "mm": 3.78,
                "q": 0.945, "vw": 10.0, "vh": 8.0}  # fmt: skip

MIN_READABLE_FONT_PX = 3.0
"""Text set at or below this size cannot be read; 1px fonts hide text."""
MIN_CONTRAST = 1.1
"""A WCAG contrast ratio below this between text and background is invisible
(white on white is 1.0; light grey #eee on white is 1.16)."""
OFF_SCREEN_PX = 999.0
"""An element moved this far out (left, top, margins, text-indent, translate) is off screen."""


# --- parsing CSS -------------------------------------------------------------------


def _declarations(css: str) -> list[tuple[str, str, bool]]:
    """``(property, value, important)`` for each relevant declaration, comments dropped.

    >>> _declarations("display:/**/none; COLOR: #FFF !important; margin: 0")
    [('display', 'none', False), ('color', '#fff', True)]
    """
    found = []
    for item in tinycss2.parse_declaration_list(css, skip_comments=True, skip_whitespace=True):
        if item.type == "declaration" and item.lower_name in _RELEVANT:
            value = " ".join(tinycss2.serialize(item.value).split()).lower()
            found.append((item.lower_name, value, bool(item.important)))
    return found


def _specificity(selector: str) -> tuple[int, int, int]:
    """A close estimate of a selector's specificity (ids, classes, types).

    >>> _specificity("div#main .note > p:first-child")
    (1, 2, 2)
    """
    ids = len(re.findall(r"#[\w-]+", selector))
    classes = len(re.findall(r"\.[\w-]+|\[[^\]]*\]|(?<!:):[\w-]+", selector))
    types = len(re.findall(r"(?:^|[\s>+~(,])([a-zA-Z][\w-]*)", selector))
    return ids, classes, types


@dataclass(frozen=True)
class _Declared:
    """One declaration that applies to an element, with its cascade key."""

    key: tuple[bool, int, tuple[int, int, int], int]  # important, inline, specificity, order
    value: str


class _StyleSheet:
    """The page's ``<style>`` rules, matched once against its elements.

    Each selector is matched only against the elements that could fit its
    last part (those with its id, class or tag name), found in an index of
    the page, so a page with thousands of rules and elements stays quick.
    """

    def __init__(self, soup: BeautifulSoup) -> None:
        self.by_element: dict[int, dict[str, _Declared]] = {}
        rules = list(itertools.islice(_page_rules(soup), MAX_STYLE_RULES))
        if not rules:
            return
        index = _ElementIndex(soup)
        budget = MAX_SELECTOR_CHECKS
        for order, (selectors, declarations) in enumerate(rules, start=1):
            for selector in _split_selectors(selectors):
                candidates = index.candidates(selector)
                budget -= len(candidates)
                if budget < 0:
                    return
                try:
                    compiled = soupsieve.compile(selector)
                    matched = [e for e in candidates if compiled.match(e)]
                except Exception:  # pseudo-elements, unsupported or broken selectors
                    continue
                specificity = _specificity(selector)
                for element in matched:
                    self._add(element, declarations, False, specificity, order)

    def _add(
        self,
        element: Tag,
        declarations: list[tuple[str, str, bool]],
        inline: bool,
        specificity: tuple[int, int, int],
        order: int,
    ) -> None:
        styles = self.by_element.setdefault(id(element), {})
        for name, value, important in declarations:
            declared = _Declared((important, int(inline), specificity, order), value)
            if name not in styles or declared.key >= styles[name].key:
                styles[name] = declared

    def computed(self, element: Tag) -> dict[str, str]:
        """The element's own values for the relevant properties after the cascade."""
        styles = dict(self.by_element.get(id(element), {}))
        for attribute, name in _PRESENTATION_ATTRIBUTES.items():
            value = element.attrs.get(attribute)
            if isinstance(value, str) and name not in styles:
                styles[name] = _Declared((False, 0, (0, 0, 0), -1), value.strip().lower())
        font_colour = element.attrs.get("color")
        if element.name == "font" and isinstance(font_colour, str):
            styles.setdefault("color", _Declared((False, 0, (0, 0, 0), -1), font_colour.lower()))
        style = element.attrs.get("style")
        if isinstance(style, list):
            style = " ".join(style)
        if isinstance(style, str) and style.strip():
            for name, value, important in _declarations(style):
                declared = _Declared((important, 1, (0, 0, 0), 0), value)
                if name not in styles or declared.key >= styles[name].key:
                    styles[name] = declared
        return {name: declared.value for name, declared in styles.items()}


def _page_rules(soup: BeautifulSoup) -> Iterator[tuple[str, list[tuple[str, str, bool]]]]:
    for style in soup.find_all("style"):
        if not media_applies(str(style.get("media", "all"))):
            continue
        yield from _rules(tinycss2.parse_stylesheet(style.get_text()))


VIEWPORT = (1280.0, 800.0)
"""The screen media queries are judged against: a desktop browser window, in
light mode. A page's mobile-only rules (``max-width: 600px``) hide nothing here."""

_MEDIA_FEATURE = re.compile(r"\(\s*(min|max)-(width|height)\s*:\s*([\d.]+)(px|em|rem)?\s*\)")


def media_applies(query: str) -> bool:
    """Whether a media query list holds for :data:`VIEWPORT` on a screen.

    >>> media_applies("screen and (min-width: 768px)"), media_applies("(max-width: 600px)")
    (True, False)
    >>> media_applies("print"), media_applies("print, (prefers-color-scheme: light)")
    (False, True)
    """
    return any(_one_query_applies(part.strip().lower()) for part in query.split(","))


def _one_query_applies(query: str) -> bool:
    if not query or query == "all":
        return True
    words = query.replace("(", " ( ").split()
    if any(w in ("print", "speech") for w in words) and "screen" not in words:
        return query.startswith("not ")
    if "prefers-color-scheme" in query and "dark" in query:
        return False
    for bound, axis, number, unit in _MEDIA_FEATURE.findall(query):
        size = float(number) * (16.0 if unit in ("em", "rem") else 1.0)
        actual = VIEWPORT[0] if axis == "width" else VIEWPORT[1]
        if (bound == "min" and actual < size) or (bound == "max" and actual > size):
            return False
    return True


def _split_selectors(selectors: str) -> list[str]:
    """A selector list cut at its top-level commas.

    >>> _split_selectors("p.a, :is(h1, h2) b")
    ['p.a', ':is(h1, h2) b']
    """
    parts, depth, current = [], 0, ""
    for char in selectors:
        depth += char in "(["
        depth -= char in ")]"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [part for part in parts if part]


class _ElementIndex:
    """The page's elements by id, class and tag name."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.everything: list[Tag] = []
        self.by_id: dict[str, list[Tag]] = {}
        self.by_class: dict[str, list[Tag]] = {}
        self.by_tag: dict[str, list[Tag]] = {}
        for element in soup.find_all(True):
            self.everything.append(element)
            self.by_tag.setdefault(element.name.lower(), []).append(element)
            element_id = element.get("id")
            if isinstance(element_id, str):
                self.by_id.setdefault(element_id, []).append(element)
            classes = element.get("class")
            for name in classes if isinstance(classes, list) else []:
                self.by_class.setdefault(name, []).append(element)

    def candidates(self, selector: str) -> list[Tag]:
        """Elements that might match ``selector``: a superset, never fewer."""
        if any(char in selector for char in "([\\"):
            return self.everything
        last = re.split(r"\s*[>+~]\s*|\s+", selector.strip())[-1]
        if match := re.search(r"#([\w-]+)", last):
            return self.by_id.get(match.group(1), [])
        if match := re.search(r"\.([\w-]+)", last):
            return self.by_class.get(match.group(1), [])
        if match := re.match(r"[a-zA-Z][\w-]*", last):
            return self.by_tag.get(match.group(0).lower(), [])
        return self.everything


def _rules(nodes: list[Any]) -> Iterator[tuple[str, list[tuple[str, str, bool]]]]:
    """``(selector, declarations)`` of every style rule, inside screen ``@media`` too."""
    for node in nodes:
        if node.type == "qualified-rule":
            declarations = _declarations(tinycss2.serialize(node.content))
            selector = tinycss2.serialize(node.prelude).strip()
            if declarations and selector:
                yield selector, declarations
        elif (
            node.type == "at-rule"
            and node.content is not None
            and node.lower_at_keyword in {"media", "supports", "layer", "container"}
        ):
            prelude = tinycss2.serialize(node.prelude).lower()
            if node.lower_at_keyword == "media" and not media_applies(prelude):
                continue
            yield from _rules(
                tinycss2.parse_rule_list(node.content, skip_comments=True, skip_whitespace=True)
            )


# --- reading values ------------------------------------------------------------------


def _length_px(value: str, font_px: float, percent_of: float | None = None) -> float | None:
    """A CSS length in pixels, or ``None`` when it cannot be known here.

    >>> _length_px("-9999px", 16), _length_px("2em", 10), _length_px("auto", 16)
    (-9999.0, 20.0, None)
    """
    match = _LENGTH.match(value.strip())
    if match is None:
        return None
    number, unit = float(match.group(1)), match.group(2)
    if unit is None:
        return number if number == 0 else None
    if unit in ("em", "ex", "ch"):
        return number * font_px * (1.0 if unit == "em" else 0.5)
    if unit == "rem":
        return number * 16.0
    if unit == "%":
        return None if percent_of is None else number * percent_of / 100
    return number * _PX_PER_UNIT[unit]


def _font_px(value: str, parent_px: float) -> float:
    """The computed font size, given the parent's.

    >>> _font_px("1px", 16), _font_px("50%", 16), _font_px("small", 16)
    (1.0, 8.0, 13.0)
    """
    value = value.replace("!important", "").strip()
    if value in _FONT_KEYWORDS:
        return _FONT_KEYWORDS[value]
    if value == "smaller":
        return parent_px / 1.2
    if value == "larger":
        return parent_px * 1.2
    px = _length_px(value, parent_px, percent_of=parent_px)
    return parent_px if px is None or px < 0 else px


def _font_shorthand_px(value: str, parent_px: float) -> float | None:
    """The size inside a ``font`` shorthand (``bold 1px/1 serif``)."""
    for word in value.replace("/", " / ").split():
        if word in _FONT_KEYWORDS or _LENGTH.match(word):
            return _font_px(word, parent_px)
    return None


def _colour(value: str) -> Rgba | None:
    """An RGBA colour from a name, hex or ``rgb()``; ``None`` if unknown.

    >>> _colour("#FFF"), _colour("rgba(0, 0, 0, 0)")[3], _colour("hsl(0 0% 100%)")
    ((255.0, 255.0, 255.0, 1.0), 0.0, None)
    """
    value = value.replace("!important", "").strip().lower()
    if value in _NAMED_COLOURS:
        return tuple(float(part) for part in _NAMED_COLOURS[value])  # type: ignore[return-value]
    hex_match = re.fullmatch(r"#([0-9a-f]{3,8})", value)
    if hex_match:
        digits = hex_match.group(1)
        if len(digits) in (3, 4):
            digits = "".join(d * 2 for d in digits)
        if len(digits) not in (6, 8):
            return None
        parts = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
        alpha = parts[3] / 255 if len(parts) == 4 else 1.0
        return float(parts[0]), float(parts[1]), float(parts[2]), alpha
    rgb_match = re.fullmatch(r"rgba?\((.*)\)", value)
    if rgb_match:
        words = [word for word in re.split(r"[\s,/]+", rgb_match.group(1)) if word]
        try:
            numbers = [
                float(w[:-1]) * (2.55 if i < 3 else 0.01) if w.endswith("%") else float(w)
                for i, w in enumerate(words)
            ]
        except ValueError:
            return None
        if len(numbers) in (3, 4):
            return numbers[0], numbers[1], numbers[2], numbers[3] if len(numbers) == 4 else 1.0
    return None


def _luminance(colour: Rgba) -> float:
    def channel(value: float) -> float:
        value = max(0.0, min(255.0, value)) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue, _ = colour
    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(text: Rgba, background: Rgba) -> float:
    """The WCAG contrast ratio of two colours (1 = same, 21 = black on white).

    >>> round(contrast((0, 0, 0, 1), (255, 255, 255, 1)), 1), contrast(_WHITE, _WHITE)
    (21.0, 1.0)
    """
    lighter, darker = sorted((_luminance(text), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# --- deciding what is hidden -----------------------------------------------------------


@dataclass(frozen=True)
class _Inherited:
    """What an element passes to its children: text colour, backdrop, font size."""

    colour: Rgba | None = _BLACK
    backdrop: Rgba | None = _WHITE
    font_px: float = 16.0
    in_svg: bool = False

    def text_is_readable(self) -> bool:
        if self.font_px <= MIN_READABLE_FONT_PX:
            return False
        if self.colour is None:
            return True
        if self.colour[3] <= 0.05:
            return False
        return self.backdrop is None or contrast(self.colour, self.backdrop) >= MIN_CONTRAST


def _number(value: str) -> float | None:
    value = value.replace("!important", "").strip()
    try:
        return float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        return None


def _hides(element: Tag, style: dict[str, str], font_px: float) -> bool:
    """Whether the element's own attributes and computed style hide it and all it holds."""
    if "hidden" in element.attrs:
        return True
    if str(element.attrs.get("aria-hidden", "")).strip().lower() == "true":
        return True
    if style.get("display", "").startswith("none"):
        return True
    if style.get("visibility", "").split(" ")[0] in ("hidden", "collapse"):
        return True
    for name in ("opacity", "fill-opacity"):
        opacity = _number(style.get(name, "1"))
        if opacity is not None and opacity <= 0.01:
            return True
    return (
        _off_screen(style, font_px)
        or _collapsed(style, font_px)
        or _clipped(style)
        or _scaled_away(style)
    )


def _off_screen(style: dict[str, str], font_px: float) -> bool:
    """Moved out of the page: ``left:-9999px``, ``text-indent:-9999px`` and the like."""
    positioned = style.get("position", "static").split(" ")[0] in (
        "absolute", "fixed", "relative", "sticky"
    )  # fmt: skip
    names = ["margin-left", "margin-top", "text-indent"] + (["left", "top"] if positioned else [])
    for name in names:
        px = _length_px(style.get(name, "").replace("!important", ""), font_px)
        if px is not None and (
            px <= -OFF_SCREEN_PX or (name == "text-indent" and px >= OFF_SCREEN_PX)
        ):
            return True
        value = style.get(name, "").strip()
        percent = _number(value) if name in ("left", "top") and value.endswith("%") else None
        if percent is not None and percent <= -1:
            return True
    for argument in re.findall(r"translate[xy3d]?\(([^)]*)\)", style.get("transform", "")):
        for part in re.split(r"[\s,]+", argument.strip()):
            px = _length_px(part, font_px)
            if px is not None and abs(px) >= OFF_SCREEN_PX:
                return True
    return False


def _collapsed(style: dict[str, str], font_px: float) -> bool:
    """No room to show anything: zero width or height with overflow hidden."""
    overflow = " ".join(style.get(n, "") for n in ("overflow", "overflow-x", "overflow-y"))
    if "hidden" not in overflow and "clip" not in overflow:
        return False
    for name in ("height", "max-height", "width", "max-width"):
        px = _length_px(style.get(name, "").replace("!important", ""), font_px)
        if px is not None and px <= 1:
            return True
    return False


def _clipped(style: dict[str, str]) -> bool:
    """``clip: rect(0 0 0 0)``, ``clip-path: inset(50%)`` or ``circle(0)``."""
    rect = re.search(r"rect\(([^)]*)\)", style.get("clip", ""))
    if rect:
        sides = [_length_px(p, 16) for p in re.split(r"[\s,]+", rect.group(1).strip()) if p]
        if len(sides) == 4 and None not in sides:
            top, right, bottom, left = (float(s) for s in sides if s is not None)
            if right - left <= 1 or bottom - top <= 1:
                return True
    path = style.get("clip-path", "")
    inset = re.search(r"inset\(\s*([\d.]+)%", path)
    if inset and float(inset.group(1)) >= 50:
        return True
    return bool(re.search(r"(circle|ellipse)\(\s*0(px|%)?[\s)]", path))


def _scaled_away(style: dict[str, str]) -> bool:
    return bool(re.search(r"scale[xy]?\(\s*0(\.0*)?\s*[,)]", style.get("transform", "")))


def _inherit(parent: _Inherited, element: Tag, style: dict[str, str]) -> _Inherited:
    """What ``element`` passes on to its text and children."""
    state = parent
    if element.name == "svg":
        state = replace(state, in_svg=True)
    if "font-size" in style:
        state = replace(state, font_px=_font_px(style["font-size"], parent.font_px))
    elif "font" in style and (size := _font_shorthand_px(style["font"], parent.font_px)):
        state = replace(state, font_px=size)
    colour_value = style.get("fill") if state.in_svg and "fill" in style else style.get("color")
    if colour_value is not None:
        colour_value = colour_value.replace("!important", "").strip()
        if colour_value in ("none",) and state.in_svg:
            state = replace(state, colour=(0.0, 0.0, 0.0, 0.0))
        elif colour_value not in ("inherit", "currentcolor"):
            state = replace(state, colour=_colour(colour_value))
    backdrop = _backdrop(style)
    if not isinstance(backdrop, str):
        state = replace(state, backdrop=backdrop)
    return state


def _backdrop(style: dict[str, str]) -> Rgba | str | None:
    """The background an element paints: a colour, ``None`` when unknowable
    (an image, a gradient), or ``"unchanged"`` when it paints none."""
    if "url(" in style.get("background-image", "") or "gradient" in style.get(
        "background-image", ""
    ):
        return None
    for name in ("background-color", "background"):
        value = style.get(name)
        if value is None:
            continue
        if "url(" in value or "gradient" in value:
            return None
        for word in re.findall(r"#[0-9a-f]+|rgba?\([^)]*\)|[a-z]+", value):
            colour = _colour(word)
            if colour is not None:
                return "unchanged" if colour[3] < 0.5 else colour
        return "unchanged"
    return "unchanged"


def is_hidden(attrs: dict[str, Any]) -> bool:
    """Whether an element's own attributes hide it from a reader of the page.

    >>> is_hidden({"style": "color: red; DISPLAY: none !important"})
    True
    >>> is_hidden({"style": "position:absolute; left:-9999px"})
    True
    >>> is_hidden({"aria-hidden": "false", "style": "font-size: 0.9em"})
    False
    """
    element = Tag(name="span", attrs=dict(attrs))
    style = _StyleSheet.computed(_NO_SHEET, element)
    state = _inherit(_Inherited(), element, style)
    return _hides(element, style, state.font_px) or not state.text_is_readable()


class _NoSheet(_StyleSheet):
    def __init__(self) -> None:
        self.by_element = {}


_NO_SHEET = _NoSheet()


# --- walking the page ------------------------------------------------------------------


def extract_html(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    """The visible text of an HTML file, one section per visible heading."""
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    soup = BeautifulSoup(decode(path, data, declared), "html.parser")
    return html_sections(soup)


def html_sections(soup: BeautifulSoup) -> ExtractedText:
    """The visible text of a parsed page; used for e-book chapters too."""
    title_tag = soup.find("title")
    title = tidy_title(title_tag.get_text()) if title_tag is not None else None
    page = _VisibleText(_StyleSheet(soup))
    page.walk(soup)
    return ExtractedText.of_sections(page.sections(), title or page.heading)


class _Heading:
    """Where a visible heading starts in the pieces; its text once it closes."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.text = ""


class _VisibleText:
    """Collects the visible text of a parsed page, its headings and first <h1>.

    The walk uses an explicit stack and never modifies the tree: deeply nested
    pages can neither exhaust the recursion limit nor trigger bs4's tree
    surgery, which costs time proportional to the depth for every edit.
    """

    def __init__(self, sheet: _StyleSheet) -> None:
        self.sheet = sheet
        self.pieces: list[str | int | _Heading] = []  # text, line breaks, heading marks
        self.heading: str | None = None
        self._open_headings: list[tuple[_Heading, int]] = []
        self._in_pre = 0

    def walk(self, root: Tag) -> None:
        frames: list[tuple[Tag, Iterator[PageElement], _Inherited]] = [
            (root, iter(root.contents), _Inherited())
        ]
        while frames:
            tag, children, state = frames[-1]
            child = next(children, None)
            if child is None:
                frames.pop()
                self._close(tag)
            elif isinstance(child, Tag):
                if child.name in _DROPPED_TAGS:
                    continue
                style = self.sheet.computed(child)
                inner = _inherit(state, child, style) if style else state
                if child.name == "svg" and not inner.in_svg:
                    inner = replace(inner, in_svg=True)
                if not _hides(child, style, inner.font_px):
                    self._open(child)
                    frames.append((child, iter(child.contents), inner))
            elif type(child) in (NavigableString, CData):  # not comments, doctypes...
                raw = str(child)
                if raw.strip() and not state.text_is_readable():
                    continue
                self.pieces.append(raw if self._in_pre else _HTML_SPACE.sub(" ", raw))

    def sections(self) -> list[Section]:
        """The text cut at each visible heading, labelled with its heading path."""
        sections: list[Section] = []
        path: list[_Heading] = []
        current: list[str | int] = []
        label: str | None = None
        for piece in self.pieces:
            if isinstance(piece, _Heading):
                if not piece.text:
                    continue
                sections.append(_section(current, label))
                while path and path[-1].level >= piece.level:
                    path.pop()
                path.append(piece)
                label = " › ".join(heading.text for heading in path)
                current = []
            else:
                current.append(piece)
        sections.append(_section(current, label))
        return [section for section in sections if section.text]

    def _open(self, tag: Tag) -> None:
        self._add_breaks(tag.name)
        self._in_pre += tag.name == "pre"
        level = _HEADING_LEVELS.get(tag.name)
        if level is not None and not self._open_headings:
            mark = _Heading(level)
            self.pieces.append(mark)
            self._open_headings.append((mark, len(self.pieces)))

    def _close(self, tag: Tag) -> None:
        if tag.name in _CELL_TAGS:
            self.pieces.append(" ")
        level = _HEADING_LEVELS.get(tag.name)
        if level is not None and self._open_headings and self._open_headings[-1][0].level == level:
            mark, start = self._open_headings.pop()
            words = self.pieces[start:]
            mark.text = tidy_title("".join(p for p in words if isinstance(p, str))) or ""
            if level == 1 and self.heading is None and mark.text:
                self.heading = mark.text
        self._add_breaks(tag.name)
        self._in_pre -= tag.name == "pre"

    def _add_breaks(self, name: str) -> None:
        if name in _PARAGRAPH_TAGS:
            self.pieces.append(2)
        elif name in _LINE_TAGS:
            self.pieces.append(1)


def _section(pieces: list[str | int], label: str | None) -> Section:
    text = join_pieces(pieces)
    return Section(text, LocationKind.SECTION, label) if label else Section(text)


def join_pieces(pieces: list[str | int]) -> str:
    """Join text pieces and line-break counts; adjacent breaks merge into the larger.

    >>> join_pieces(["a ", 1, 2, " b", 1, "c"])
    'a\\n\\nb\\nc'
    """
    out: list[str] = []
    pending = 0
    for piece in pieces:
        if isinstance(piece, int):
            pending = max(pending, piece)
        elif piece.strip() or not pending:
            if pending:
                out.append("\n" * pending)
                pending = 0
            out.append(piece)
    text = "".join(out)
    return re.sub(r"[ \t]*\n[ \t]*", "\n", text).strip()
