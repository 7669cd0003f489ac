"""Text formatting and reply-markup validation, as strict as the Bot API.

``parse_text`` turns a ``text``/``caption`` plus ``parse_mode`` into Telegram's plain
text and a list of MessageEntity dicts (offsets in UTF-16 code units), raising
:class:`ApiError` with Telegram's descriptions on malformed input.
``validate_reply_markup`` checks keyboards the way Telegram does.
"""

from __future__ import annotations

import re
from typing import Any

from .state import ApiError

JSON = dict[str, Any]

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_MD_RESERVED = set("_*[]()~`>#+-=|{}.!")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


def _entity_error(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")


class _Builder:
    """Accumulates plain text and entities while a parser walks the source."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offset = 0
        self.entities: list[JSON] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.offset += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.offset > start:
            self.entities.append({"type": kind, "offset": start, "length": self.offset - start})
            self.entities[-1].update(extra)

    def result(self) -> tuple[str, list[JSON]]:
        merged: list[JSON] = []
        for entity in sorted(self.entities, key=lambda e: (e["offset"], -e["length"])):
            previous = merged[-1] if merged else None
            if (
                previous is not None
                and entity["type"] == previous["type"] == "blockquote"
                and entity["offset"] == previous["offset"] + previous["length"] + 1
            ):  # consecutive "> " lines form one quote
                previous["length"] += entity["length"] + 1
                continue
            merged.append(entity)
        return "".join(self.parts), merged


def _decode_entity(src: str, i: int) -> tuple[str, int] | None:
    """Decode an HTML character reference at ``src[i] == '&'``: (char, next index)."""
    match = re.match(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);", src[i:])
    if not match:
        return None
    name = match.group(1)
    if name.startswith("#"):
        code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), i + match.end()
    if name not in _NAMED_ENTITIES:
        return None
    return _NAMED_ENTITIES[name], i + match.end()


def _parse_attributes(src: str, i: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse attributes of a start tag from ``i``; returns them and the index of '>'."""
    attrs: dict[str, str] = {}
    n = len(src)
    offset = _byte_offset(src, begin)
    while True:
        while i < n and src[i].isspace():
            i += 1
        if i >= n:
            raise _entity_error(f"Unclosed start tag at byte offset {offset}")
        if src[i] == ">":
            return attrs, i
        name_start = i
        while i < n and not src[i].isspace() and src[i] not in "=>":
            i += 1
        name = src[name_start:i].lower()
        if not name:
            raise _entity_error(f'Empty attribute name in the tag "{tag}" at byte offset {offset}')
        while i < n and src[i].isspace():
            i += 1
        if tag == "blockquote" and name == "expandable" and (i >= n or src[i] != "="):
            attrs[name] = ""
            continue
        if i >= n or src[i] != "=":
            raise _entity_error(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag}" at byte offset {offset}'
            )
        i += 1
        while i < n and src[i].isspace():
            i += 1
        if i >= n:
            raise _entity_error(f'Unclosed start tag "{tag}" at byte offset {offset}')
        if src[i] in "\"'":
            quote = src[i]
            end = src.find(quote, i + 1)
            if end < 0:
                raise _entity_error(f"Unclosed start tag at byte offset {offset}")
            raw = src[i + 1 : end]
            value = re.sub(
                r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);",
                lambda m: (_decode_entity(m.group(0), 0) or (m.group(0), 0))[0],
                raw,
            )
            i = end + 1
        else:
            token_start = i
            while i < n and (src[i].isalnum() or src[i] in ".-"):
                i += 1
            value = src[token_start:i].lower()
            if i < n and not src[i].isspace() and src[i] != ">":
                raise _entity_error(
                    f"Unexpected end of name token at byte offset {_byte_offset(src, token_start)}"
                )
        attrs[name] = value


def parse_html(src: str, strict_ampersand: bool = True) -> tuple[str, list[JSON]]:
    """Parse Telegram-flavoured HTML into (plain text, entities)."""
    out = _Builder()
    stack: list[tuple[str, dict[str, str], int]] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "&":
            decoded = _decode_entity(src, i)
            if decoded is not None:
                out.add(decoded[0])
                i = decoded[1]
                continue
            if strict_ampersand:
                raise _entity_error(
                    f'Unescaped "&" not forming an entity at byte offset {_byte_offset(src, i)}'
                )
        if c != "<":
            out.add(c)
            i += 1
            continue
        begin = i
        if i + 1 < n and src[i + 1] == "/":
            if not stack:
                raise _entity_error(f"Unexpected end tag at byte offset {_byte_offset(src, begin)}")
            j = i + 2
            while j < n and not src[j].isspace() and src[j] != ">":
                j += 1
            end_name = src[i + 2 : j].lower()
            while j < n and src[j].isspace():
                j += 1
            if j >= n or src[j] != ">":
                raise _entity_error(f"Unclosed end tag at byte offset {_byte_offset(src, begin)}")
            tag, attrs, start = stack.pop()
            if end_name and end_name != tag:
                raise _entity_error(
                    f"Unmatched end tag at byte offset {_byte_offset(src, begin)}, "
                    f'expected "</{tag}>", found "</{end_name}>"'
                )
            _close_tag(out, tag, attrs, start, stack)
            i = j + 1
            continue
        j = i + 1
        while j < n and not src[j].isspace() and src[j] != ">":
            j += 1
        if j >= n:
            raise _entity_error(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
        tag = src[i + 1 : j].lower()
        if tag not in _HTML_TAGS:
            raise _entity_error(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
            )
        attrs, j = _parse_attributes(src, j, tag, begin)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise _entity_error(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(src, begin)}'
            )
        stack.append((tag, attrs, out.offset))
        i = j + 1
    if stack:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_tag(
    out: _Builder, tag: str, attrs: dict[str, str], start: int, stack: list[Any]
) -> None:
    kind = _HTML_TAGS[tag]
    if tag == "a":
        href = attrs.get("href", "")
        if href:
            out.entity("text_link", start, url=href)
    elif tag == "blockquote":
        out.entity("expandable_blockquote" if "expandable" in attrs else "blockquote", start)
    elif tag == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1][1]["language"] = language[len("language-") :]
    elif tag == "pre":
        extra = {"language": attrs["language"]} if attrs.get("language") else {}
        out.entity("pre", start, **extra)
    elif tag == "tg-emoji":
        out.entity(kind, start, custom_emoji_id=attrs.get("emoji-id", ""))
    else:
        out.entity(kind, start)


_MD_MARKERS = (
    ("```", "pre", "Pre"),
    ("||", "spoiler", "Spoiler"),
    ("__", "underline", "Underline"),
    ("*", "bold", "Bold"),
    ("_", "italic", "Italic"),
    ("~", "strikethrough", "Strikethrough"),
    ("`", "code", "Code"),
)


def parse_markdown_v2(src: str) -> tuple[str, list[JSON]]:
    """Parse MarkdownV2 into (plain text, entities); reserved characters must be escaped."""
    out = _Builder()
    stack: list[tuple[str, str, str, int, int]] = []  # marker, kind, name, start, byte
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        in_code = bool(stack) and stack[-1][1] in ("pre", "code")
        if c == "\\":
            if i + 1 < n and 1 <= ord(src[i + 1]) <= 126:
                out.add(src[i + 1])
                i += 2
                continue
            raise _entity_error(f"Character '\\' is reserved at byte offset {_byte_offset(src, i)}")
        marker = next((m for m in _MD_MARKERS if src.startswith(m[0], i)), None)
        if in_code:
            if stack and src.startswith(stack[-1][0], i):
                _md_close(out, stack)
                i += len(stack.pop()[0])
            else:
                out.add(c)
                i += 1
            continue
        if marker is not None:
            open_index = next((k for k, s in enumerate(stack) if s[0] == marker[0]), None)
            if open_index is not None:
                if open_index != len(stack) - 1:
                    raise _entity_error(
                        f"Can't find end of {stack[-1][2]} entity at byte offset {stack[-1][4]}"
                    )
                _md_close(out, stack)
                stack.pop()
            else:
                stack.append((marker[0], marker[1], marker[2], out.offset, _byte_offset(src, i)))
            i += len(marker[0])
            if marker[1] == "pre":
                newline = src.find("\n", i)
                if newline >= 0 and src[i:newline].strip() and " " not in src[i:newline]:
                    i = newline + 1
            continue
        if c == "[":
            stack.append(("]", "text_link", "TextUrl", out.offset, _byte_offset(src, i)))
            i += 1
            continue
        if c == "]" and stack and stack[-1][0] == "]":
            if not src.startswith("(", i + 1):
                raise _entity_error(
                    f"Character ']' is reserved at byte offset {_byte_offset(src, i)}"
                )
            end = i + 2
            url: list[str] = []
            while end < n and src[end] != ")":
                if src[end] == "\\" and end + 1 < n:
                    end += 1
                url.append(src[end])
                end += 1
            if end >= n:
                raise _entity_error(
                    f"Can't find end of a URL at byte offset {_byte_offset(src, i)}"
                )
            _, _, _, start, _ = stack.pop()
            out.entity("text_link", start, url="".join(url))
            i = end + 1
            continue
        if c == ">" and (i == 0 or src[i - 1] == "\n"):
            stack.append(("\n", "blockquote", "Blockquote", out.offset, _byte_offset(src, i)))
            i += 1
            continue
        if c == "\n" and stack and stack[-1][0] == "\n":
            _md_close(out, stack)
            stack.pop()
        elif c in _MD_RESERVED:
            raise _entity_error(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(c)
        i += 1
    if stack and stack[-1][0] == "\n":
        _md_close(out, stack)
        stack.pop()
    if stack:
        raise _entity_error(
            f"Can't find end of {stack[-1][2]} entity at byte offset {stack[-1][4]}"
        )
    return out.result()


def _md_close(out: _Builder, stack: list[tuple[str, str, str, int, int]]) -> None:
    """Emit the entity on top of ``stack`` (the caller pops it)."""
    out.entity(stack[-1][1], stack[-1][3])


def parse_text(
    text: str | None, parse_mode: str | None, *, strict_ampersand: bool = True
) -> tuple[str, list[JSON]]:
    """Apply ``parse_mode`` and Telegram's whitespace trimming; entity offsets are adjusted."""
    raw = text or ""
    mode = (parse_mode or "").lower()
    if mode == "html":
        plain, entities = parse_html(raw, strict_ampersand)
    elif mode == "markdownv2":
        plain, entities = parse_markdown_v2(raw)
    elif mode == "markdown":
        plain, entities = parse_markdown_v2(_legacy_markdown_to_v2(raw))
    elif mode == "":
        plain, entities = raw, []
    else:
        raise ApiError(400, "Bad Request: unsupported parse_mode")
    stripped = plain.strip()
    if stripped == plain:
        return plain, entities
    lead = utf16_len(plain[: len(plain) - len(plain.lstrip())])
    end = lead + utf16_len(stripped)
    trimmed: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"], lead)
        stop = min(entity["offset"] + entity["length"], end)
        if stop > start:
            trimmed.append({**entity, "offset": start - lead, "length": stop - start})
    return stripped, trimmed


def _legacy_markdown_to_v2(src: str) -> str:
    """Legacy Markdown only knows *, _, `, ``` and links; escape everything else."""
    return re.sub(r"([#+\-=|{}.!>~])", r"\\\1", src)
