#!/usr/bin/env python3
"""Rewrites tera templates from the catalog object to the translation function.

    {{ t.section.key }}             ->  {{ t(k="section.key") }}
    {{ t.status[app.status] }}      ->  {{ t(k="status." ~ app.status) }}
    {{ t.email[kind].body | f }}    ->  {{ t(k="email." ~ kind ~ ".body") | f }}
    label=t.a.b                     ->  label=t(k="a.b")

Only the code inside {{ }} and {% %} is touched (not text, comments or string
literals), so running it again changes nothing. Usage:

    python3 src/i18n/rewrite_templates.py templates/**/*.html templates/**/*.txt
    python3 src/i18n/rewrite_templates.py templates          # every file below

Prints the files it changed; exits 1 (changing nothing in that file) on a form
it cannot rewrite, naming the file and line.
"""

import os
import re
import sys

IDENT = re.compile(r"[A-Za-z0-9_]+")
# What tera accepts as an operand of `~`: a variable path, a string or an integer.
DYNAMIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+|\[[^\[\]]+\])*$")
STRING = re.compile(r'^("[^"]*"|\'[^\']*\'|`[^`]*`)$')
# A template that names its own `t` would be rewritten wrongly: refuse it.
SHADOW = re.compile(r"\{%-?\s*(for\s+(t\s*,|[A-Za-z_]\w*\s*,\s*t\s+in|t\s+in)|set(_global)?\s+t\s*=)")


class Unsupported(Exception):
    pass


def skip_string(code, i):
    """Index just past the string literal starting at code[i]."""
    quote = code[i]
    end = code.find(quote, i + 1)
    if end < 0:
        raise Unsupported("unterminated string")
    return end + 1


def closing_bracket(code, i):
    """Index of the `]` matching the `[` at code[i]."""
    depth, j = 0, i
    while j < len(code):
        c = code[j]
        if c in "\"'`":
            j = skip_string(code, j)
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise Unsupported("unbalanced [")


def key_expression(parts):
    """`parts` are ("static", name) or ("dynamic", expr): the tera expression of the key."""
    pieces, text = [], ""
    for kind, value in parts:
        if kind == "static":
            text += ("." if text or pieces else "") + value
        else:
            if text or pieces:
                text += "."
            if text:
                pieces.append('"' + text + '"')
                text = ""
            pieces.append(value)
    if text:
        pieces.append('"' + text + '"')
    return " ~ ".join(pieces)


def rewrite_code(code):
    """Rewrites one tag's code (between the delimiters)."""
    out, i = [], 0
    while i < len(code):
        c = code[i]
        if c in "\"'`":
            j = skip_string(code, i)
            out.append(code[i:j])
            i = j
            continue
        m = IDENT.match(code, i)
        if not m:
            out.append(c)
            i += 1
            continue
        word, j = m.group(0), m.end()
        before = code[i - 1] if i > 0 else " "
        if word != "t" or before == "." or j >= len(code) or code[j] not in ".[":
            out.append(word)
            i = j
            continue
        parts = []
        while j < len(code) and code[j] in ".[":
            if code[j] == ".":
                seg = IDENT.match(code, j + 1)
                if not seg:
                    break
                parts.append(("static", seg.group(0)))
                j = seg.end()
            else:
                end = closing_bracket(code, j)
                expr = code[j + 1:end].strip()
                if STRING.match(expr):
                    parts.append(("static", expr[1:-1]))
                elif re.fullmatch(r"\d+", expr):
                    parts.append(("static", expr))
                elif DYNAMIC.match(expr):
                    parts.append(("dynamic", expr))
                else:
                    raise Unsupported(f"cannot rewrite the lookup t…[{expr}]")
                j = end + 1
        if not parts:
            out.append(word)
            i = j
            continue
        out.append("t(k=" + key_expression(parts) + ")")
        i = j
    return "".join(out)


TAG = re.compile(r"\{\{|\{%|\{#")
CLOSE = {"{{": "}}", "{%": "%}", "{#": "#}"}


def rewrite(text):
    out, i = [], 0
    while True:
        m = TAG.search(text, i)
        if not m:
            out.append(text[i:])
            return "".join(out)
        start = m.start()
        opener = m.group(0)
        out.append(text[i:start + 2])
        close = text.find(CLOSE[opener], start + 2)
        if close < 0:
            raise Unsupported(f"unclosed {opener}")
        body = text[start + 2:close]
        if opener == "{#":
            out.append(body)
        else:
            try:
                out.append(rewrite_code(body))
            except Unsupported as e:
                line = text.count("\n", 0, start) + 1
                raise Unsupported(f"line {line}: {e}") from None
        out.append(CLOSE[opener])
        i = close + 2


def files(args):
    for arg in args:
        if os.path.isdir(arg):
            for root, _, names in os.walk(arg):
                for name in sorted(names):
                    if name.endswith((".html", ".txt")):
                        yield os.path.join(root, name)
        else:
            yield arg


def main(args):
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    failed = False
    for path in files(args):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            if SHADOW.search(text):
                raise Unsupported("the template names its own variable `t`")
            new = rewrite(text)
        except Unsupported as e:
            print(f"{path}: {e}", file=sys.stderr)
            failed = True
            continue
        if new != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            print(path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
