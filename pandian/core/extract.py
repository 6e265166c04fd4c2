"""Answers from free text: the letter a chat model chose, or the number it arrived at.

Chat and API models answer in prose, so the answer has to be found in it. Each function tries its rules from the
most explicit signal to the weakest and stops at the first that finds something. When none does, the result is
None, never a guess: callers count extraction failures apart from wrong answers, and a random letter would hide a
failure inside a 25%-correct one. Reasoning (<think> blocks) is removed first, because letters and numbers a model
considers while thinking are not its answer.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

# Full-width ASCII (Ａ, ３, （, ：, ％) becomes ASCII so that one pattern covers both. The full-width comma stays:
# in "100，200" it separates two numbers, while the ASCII comma of "1,200" is a thousands separator.
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if c != 0xFF0C}
_FULLWIDTH |= {0x3000: 0x20, 0x2212: 0x2D}  # ideographic space, minus sign

_THINK_TAG = re.compile(r"<(/?)think(?:ing)?>", re.IGNORECASE)


def strip_reasoning(text: str) -> str:
    """The response without its reasoning, stripped of surrounding whitespace.

    Rule order: 1. every closed <think>…</think> (or <thinking>) block is removed; 2. a closing tag left without
    its opening tag (chat templates that put <think> in the prompt) drops everything before it; 3. an opening tag
    never closed (generation cut off mid-thought) drops everything after it, since no answer was reached.
    """
    # One pass over the tags, so that a response full of tags costs linear time.
    kept, inside, last = [], False, 0
    for tag in _THINK_TAG.finditer(text):
        if not inside:
            kept.append(text[last : tag.start()])
        closing = bool(tag[1])
        if closing and not inside:
            kept = []
        inside, last = not closing, tag.end()
    if not inside:
        kept.append(text[last:])
    return "".join(kept).strip()


def _normalise(text: str) -> str:
    return strip_reasoning(text).translate(_FULLWIDTH)


def _boxed(text: str) -> list[str]:
    """Contents of every closed \\boxed{…} / \\fbox{…}, in order of opening; braces are balanced, since \\frac{}{}
    nests inside. One pass over the braces keeps it linear in the length of the text."""
    opened, contents = [], []  # opened: (where the content starts, whether the brace opens a box)
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{|[{}]", text):
        if m[0] != "}":
            opened.append((m.end(), m[0] != "{"))
        elif opened:
            start, is_box = opened.pop()
            if is_box:
                contents.append((start, text[start : m.start()]))
    return [content for _, content in sorted(contents)]


# A letter followed by one of these is being ruled out ("A项错误", "B is wrong"), not chosen.
_REJECTED = re.compile(
    r"[\s)\]】*:.、]*(?:(?:项|选项)\s*)?(?:的?(?:说法|表述)\s*)?(?:[都也]\s*)?(?:是\s*)?"
    r"(?:错|不正确|不对|不符|不成立|有误|排除|(?i:(?:(?:is|are)\s+)?(?:wrong|incorrect|false|not\s+correct)\b))"
)

_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s|\n)\s*")
_WORD_FOLLOWS = re.compile(r"\s+[a-z]")
# "答案是A还是B", "A or B", "A、B、D三项": a letter listed with another is not a statement of the answer, nor an
# answer line; the letters anywhere (rule 5) count as two, which is no answer either.
_NOT_LISTED = r"(?!\s*(?:还是|或者?|或是|和|与|、|/|(?i:or|and)\b)\s*[(\[]?[A-Za-z](?![A-Za-z]))"


class _ChoicePatterns:
    """The patterns for one label set, compiled once (see `_choice_patterns`)."""

    def __init__(self, labels: str):
        up = labels.upper()
        letter = rf"(?P<letter>[{up}{up.lower()}])(?![A-Za-z]){_NOT_LISTED}"
        opening = r"[(\[\"'“「【]?"
        zh = (
            r"(?:(?:正确|最终)?答案|正确的?选项|(?:不|错误|正确)的(?:一项|选项|说法)?\s*(?:是|为|:)"
            r"|(?P<zh_neg>不|别)?(?:应该|应当|应|要|能|可以)?选择?|(?<![\u4e00-\u9fff])答\s*:|(?:觉得|认为|应该|应)是|只有)"
            r"[\s:是为应该当就选】]*(?:选项\s*)?"
        )
        en = (
            r"(?i:(?:(?:correct|right|best|final)[ \t]+)?answer(?:[ \t]+to[ \t]+(?:this|the)[ \t]+question)?\s*"
            r"(?:is|would[ \t]+be|should[ \t]+be|must[ \t]+be|will[ \t]+be|:|=)"
            r"|(?:correct|right|best|final)[ \t]+(?:option|choice)\s*(?:is|would[ \t]+be|should[ \t]+be|:)?"
            r"|(?P<en_neg>not[ \t]+|n't[ \t]+)?(?:choose|select|pick|go[ \t]+with))\s*(?:(?i:option|choice)\s*)?"
        )
        self.statement = re.compile(rf"(?:{zh}|{en}){opening}{letter}")
        # "C is correct", "C项正确", "选项C正确": a verdict on one option, which is an answer statement too.
        self.verdict = re.compile(
            rf"(?<![A-Za-z])(?P<letter>[{up}])(?![A-Za-z])\s*(?:(?:项|选项)\s*)?"
            r"(?:是正确的|正确|(?i:is\s+(?:the\s+)?(?:correct|right)(?:\s+(?:answer|option|choice))?)(?![a-z]))"
        )
        self.bold = re.compile(rf"\*\*\s*\(?(?P<letter>[{up}])(?![A-Za-z])[^*\n]{{0,40}}\*\*")
        # A line that starts with a delimited label: "C", "(C)", "C.", "C、", "- C) 北京". A space is no delimiter,
        # or "A is wrong because…" would count as choosing A.
        self.line = re.compile(rf"^[ \t>#*-]*\(?(?P<letter>[{up}]){_NOT_LISTED}(?:[.、:)。*]|[ \t]*$)", re.MULTILINE)
        self.lone = re.compile(rf"(?<![A-Za-z])(?P<letter>[{up}])(?![A-Za-z])(?!['’][a-z])")

    def lone_labels(self, text: str) -> list[re.Match]:
        """Uppercase labels standing alone, except English words: the article opening a sentence ("A good
        reason"), the pronoun ("I think"). Mid-sentence, "A or C" names labels."""
        starts = {m.end() for m in _SENTENCE_START.finditer(text)}
        return [
            m
            for m in self.lone.finditer(text)
            if not (_WORD_FOLLOWS.match(text, m.end()) and (m["letter"] == "I" or m.start() in starts))
        ]


@lru_cache(maxsize=32)
def _choice_patterns(labels: str) -> _ChoicePatterns:
    if not labels or not re.fullmatch(r"[A-Za-z]+", labels):
        raise ValueError(f"labels must be ASCII letters such as 'ABCD', got {labels!r}")
    return _ChoicePatterns(labels)


def _kept(text: str, matches) -> list[re.Match]:
    return [m for m in matches if not _REJECTED.match(text, m.end("letter"))]


def _only_label(text: str, matches) -> str | None:
    letters = {m["letter"].upper() for m in _kept(text, matches)}
    return letters.pop() if len(letters) == 1 else None


def _stated_label(text: str, p: _ChoicePatterns) -> str | None:
    """The letter of the last answer statement; a lowercase one only where it cannot be an English word."""
    found = []
    for m in _kept(text, p.statement.finditer(text)):
        if m["zh_neg"] or m["en_neg"]:
            continue
        letter = m["letter"]
        # "answer: c", "答案是c" and "the answer is c." are answers; in "the answer is a prime" "a" is a word.
        if letter.islower() and _WORD_FOLLOWS.match(text, m.end()) and not re.search(r"[(\[\"'“「【]", m[0]):
            continue
        found.append((m.start("letter"), letter.upper()))
    found += [(m.start("letter"), m["letter"]) for m in _kept(text, p.verdict.finditer(text))]
    return max(found)[1] if found else None


def _squash(s: str) -> str:
    return re.sub(r"[\s.。,，!！?？:;；\"'“”‘’()*]", "", s).lower()


def _label_by_text(text: str, labels: str, choices: list[str]) -> str | None:
    """The label of the one choice whose text the response is, or contains (choices of two characters or more)."""
    body = _squash(text)
    # A question may have fewer options than the label set (MMLU-Pro's ten labels), never more.
    pairs = [(label, _squash(c)) for label, c in zip(labels.upper(), choices, strict=False) if _squash(c)]
    if exact := [label for label, c in pairs if c == body]:
        return exact[0]
    inside = [(label, c) for label, c in pairs if len(c) >= 2 and c in body]
    # "北京市" contains "北京": the longer choice is the one meant.
    inside = [(label, c) for label, c in inside if not any(c != o and c in o for _, o in inside)]
    return inside[0][0] if len({label for label, _ in inside}) == 1 else None


def extract_choice(text: str, labels: str = "ABCD", choices: list[str] | None = None) -> str | None:
    """The label chosen in `text` (uppercase, one of `labels`), or None when the response gives no answer.

    Rule order, first hit wins, after `strip_reasoning` and full-width normalisation:
      1. the last \\boxed{…} holding a label (\\boxed{C}, \\boxed{\\text{C}});
      2. the last answer statement: 答案是/为/：C, 故选C, 应选C, 我选择C, 正确选项是C, 正确的是C, "the answer is (C)",
         "Answer: C", "the correct option is C", "I choose C", or a verdict "C is correct" / "C项正确";
      3. a single distinct bold label (**C**, **C. 北京**);
      4. a single distinct label opening a line ("C", "(C)", "C.", "C、 北京");
      5. a single distinct uppercase label anywhere ("我认为是（C）");
      6. with `choices`, and only when no label appears at all: the one choice whose text the response is or
         contains.
    Labels ruled out ("A项错误", "B is wrong") are ignored in rules 2–5; in rules 2 and 4 so are labels listed with
    another ("答案是A还是B", "A、B、D三项"), and in rule 2 "不选A" / "not choose A".
    Lowercase letters count only in rule 2 and only where no word follows ("answer: c", "答案是c", "answer is (a)
    because…", never "the answer is a prime").
    Letters inside words ("Because") and letters outside `labels` never count.
    """
    p = _choice_patterns(labels)
    if choices is not None and len(choices) > len(labels):
        raise ValueError(f"{len(choices)} choices but only the labels {labels!r}: pass one label per choice")
    text = _normalise(text)
    for content in reversed(_boxed(text)):
        m = re.match(rf"[(\s]*([{labels.upper()}])(?![A-Za-z])", re.sub(r"\\[a-zA-Z]+|[{}]", "", content))
        if m:
            return m[1]
    plain = re.sub(r"\*\*|__|`", "", text)  # markdown emphasis would split "**答案：**C"
    found = _stated_label(plain, p) or _only_label(text, p.bold.finditer(text))
    found = found or _only_label(text, p.line.finditer(text)) or _only_label(text, p.lone_labels(text))
    if found or not choices or p.lone_labels(text):
        return found
    return _label_by_text(text, labels, choices)


_NUMBER = re.compile(
    r"(?:(?<![0-9A-Za-z)\]}])-)?(?<![0-9A-Za-z.])(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:/\d+(?:\.\d+)?)?"
)
# "#### 72" ends a GSM8K solution; "#### 2. 计算利润" is a markdown heading and does not.
_GSM8K_FINAL = re.compile(r"(?<!#)####[ \t]*[$¥€£]?[ \t]*(?=-?\d)(?!\d+\.[ \t])")
_NUMBER_STATEMENT = re.compile(
    r"(?:(?:最终)?答案|结果|(?<![\u4e00-\u9fff])答|(?i:(?:final\s+)?answer))\s*"
    r"(?:应该是|应为|是|为|(?i:is|would\s+be|should\s+be|will\s+be|equals)|:|=)"
    r"[^\d\n。!?！？]{0,20}?(?=-?\d)"
)
_OPERATOR = re.compile(r"\s*[-+*/×÷^=]")
_SENTENCE_END = re.compile(r"[\n。!?！？]|\.(?!\d)")


def _plain_math(s: str) -> str:
    """LaTeX to plain text for number reading: \\frac{3}{4} → 3/4, 1{,}000 → 1,000, \\text{元} → 元, \\times → ×."""
    s = re.sub(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"\1/\2", s)
    s = re.sub(r"\\(?:times|cdot)(?![a-zA-Z])", "×", re.sub(r"\\div(?![a-zA-Z])", "÷", s))
    s = re.sub(r"\\[,!;: ]", "", s.replace("{,}", ","))
    return re.sub(r"\\[a-zA-Z]+|\\.|[{}]", " ", s)


def _canonical(token: str) -> str | None:
    """'1,234.50' → '1234.5', '-0.0' → '0'; fractions stay exact and reduced ('6/8' → '3/4', '12/4' → '3')."""
    token = token.replace(",", "")
    if "/" in token:
        num, den = (Fraction(Decimal(part)) for part in token.split("/"))
        if den == 0:
            return None
        value = num / den
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    text = format(Decimal(token).normalize(), "f")
    return "0" if text == "-0" else text


def _stated_number(text: str) -> str | None:
    """The number of the last answer statement; for "答案是 3 + 4 = 7" the one after the last '='."""
    for m in reversed(list(_NUMBER_STATEMENT.finditer(text))):
        number = _NUMBER.match(text, m.end())
        if not number:
            continue
        if not _OPERATOR.match(text, number.end()):
            return number[0]
        end = _SENTENCE_END.search(text, number.end())
        clause = text[number.start() : end.start() if end else len(text)]
        if "=" in clause and (result := _NUMBER.search(clause.rsplit("=", 1)[1])):
            return result[0]
    return None


def extract_number(text: str) -> str | None:
    """The final numeric answer in `text` as a canonical string ("42", "-3.5", "1234.5", "3/4"), or None.

    Rule order, first hit wins, after `strip_reasoning` and full-width normalisation:
      1. GSM8K's final line, "#### 72" (the last one);
      2. the last \\boxed{…} holding a number (after its last '=', LaTeX fractions read as a/b);
      3. the last answer statement: "答案是 42", "答：…15 个", "The answer is $1,234.50.", "Final answer: 7";
      4. the last number in the text, never the first: intermediate results come before the answer.
    Units, currency and % are dropped ("25%" → "25", "¥3.5" → "3.5"); thousands commas are read (ASCII only, in
    groups of three); a minus sign counts only where it is not subtraction ("-3", not the one in "10-3").
    Fractions are kept exact and reduced ("6/8" → "3/4"); `numbers_equal` compares them with decimals.
    """
    text = _normalise(text)
    finals = [_NUMBER.match(text, m.end()) for m in _GSM8K_FINAL.finditer(text)]
    candidates = [finals[-1][0]] if finals and finals[-1] else []
    boxed = [m[0] for content in _boxed(text) if (m := _NUMBER.search(_plain_math(content).rsplit("=", 1)[-1]))]
    candidates += boxed[-1:]
    plain = _plain_math(text)
    candidates += [_stated_number(plain)] + [m[0] for m in list(_NUMBER.finditer(plain))[-1:]]
    for token in candidates:
        if token and (canonical := _canonical(token)) is not None:
            return canonical
    return None


def _values(answer: str) -> list[float]:
    """The values a numeric answer string may mean: '75%' is 75 or 0.75, since golds and models write both."""
    s = re.sub(r"[\s$¥€£]", "", answer.translate(_FULLWIDTH))
    percent = s.endswith("%")
    s = s.rstrip("%")
    if not _NUMBER.fullmatch(s) or (canonical := _canonical(s)) is None:
        return []
    value = float(Fraction(canonical))
    return [value, value / 100] if percent else [value]


def numbers_equal(a: str | None, b: str | None, rel_tol: float = 1e-6) -> bool:
    """Whether two numeric answers are the same number: '3/4' == '0.75', '1,234' == '1234.0', '75%' == '0.75'.

    Values are compared with a relative tolerance of `rel_tol` (1e-6: float noise, not rounding, so '0.33' is not
    '1/3'), and an absolute one of 1e-9 near zero. None, or text that is not a number, equals nothing.
    """
    if a is None or b is None:
        return False
    return any(math.isclose(x, y, rel_tol=rel_tol, abs_tol=1e-9) for x in _values(a) for y in _values(b))


# ---------------------------------------------------------------- several letters (multi-select questions)

_RUN_SEPARATOR = r"(?:\s*(?:[,，、;；/&+]|和|与|及|以及|(?i:and))\s*|\s*)"
_ANSWER_PREFIX = re.compile(
    r"(?:(?:正确|最终)?答案|正确的?选项|正确的(?:是|有)|故选|应选|选择?|【答案】|\[正确答案\]"
    r"|(?i:(?:correct\s+|final\s+)?(?:answers?|options?|choices?)(?:\s+(?:is|are))?|choose|select|pick))"
    r"[\s:：是为有应该当就选】\]]*(?:选项\s*)?[(\[\"'“「【]?"
)
_RUN_VERDICT = (r"\s*(?:[两三四五]?项|选项)?\s*(?:的?(?:说法|表述))?\s*(?:都|均|全)?(?:是)?"
                r"(?:正确|对|(?i:(?:are|is)\s+(?:both\s+|all\s+)?correct))")


def _run_letters(text: str, start: int, labels: str) -> tuple[list[str], int]:
    """The labels written one after another from `start` ("ACD", "A、C、D", "A and C") and where they end, or
    ([], start) when no run starts there (or a word does: "Apple"); a label ruled out right after it ("B项错误") is
    dropped."""
    m = re.compile(rf"[{labels}](?:{_RUN_SEPARATOR}[{labels}])*(?![A-Za-z])").match(text, start)
    if not m:
        return [], start
    letters = [x for x in re.finditer(rf"[{labels}]", m[0])
               if not _REJECTED.match(text, start + x.end())]
    return [x[0] for x in letters], m.end()


def extract_choices(text: str, labels: str = "ABCD", choices: list[str] | None = None) -> str | None:
    """The set of labels chosen in `text`, in label order ("ACD"), or None when the response gives no answer.

    For multi-select questions. Rule order, first hit wins, after `strip_reasoning` and full-width normalisation:
      1. the last \\boxed{…} holding labels only (\\boxed{AC}, \\boxed{A,C});
      2. the last answer statement followed by labels: 答案是ACD, 答案：A、C, 故选AD, 【答案】 AB <eoa>,
         [正确答案]AB<eoa>, "the answers are A and C", or a verdict "A和C都正确" / "A, C are correct";
      3. the last line that holds labels only ("AC", "A, C", "A、C。");
      4. `extract_choice`'s single label, as a set of one.
    Labels ruled out ("B项错误", "B is wrong") are dropped from a run; labels outside `labels` never count.
    """
    up = labels.upper()
    _choice_patterns(up)  # validates the labels
    norm = _normalise(text)
    for content in reversed(_boxed(norm)):
        inner = re.sub(r"\\[a-zA-Z]+|[{}\s]", "", content)
        if inner and re.fullmatch(rf"[{up}]+(?:[,，、;/&+][{up}]+)*", inner):
            return "".join(c for c in up if c in inner)
    plain = re.sub(r"\*\*|__|`", "", norm)
    hedge = re.compile(rf"\s*(?:或者?|或是|还是|(?i:or))\s*[{up}](?![A-Za-z])")
    found: list[tuple[int, list[str]]] = []
    for m in _ANSWER_PREFIX.finditer(plain):
        letters, end = _run_letters(plain, m.end(), up)
        if letters and not hedge.match(plain, end):  # "答案是A或B" states no answer
            found.append((m.start(), letters))
    verdicts: set[str] = set()
    covered = 0
    for m in re.finditer(rf"(?<![A-Za-z])(?=[{up}](?![a-z]))", plain):
        if m.start() < covered:  # inside a run already read from its start
            continue
        letters, end = _run_letters(plain, m.start(), up)
        covered = end
        if letters and re.match(_RUN_VERDICT, plain[end:]):
            if len(letters) >= 2:
                found.append((m.start(), letters))
            verdicts |= set(letters)
    if found:
        return "".join(c for c in up if c in max(found, key=lambda x: x[0])[1])
    if verdicts:  # "A项正确，B项错误，C项正确"
        return "".join(c for c in up if c in verdicts)
    for line in reversed(plain.splitlines()):
        bare = line.strip().rstrip("。.").strip()
        if bare and re.fullmatch(rf"[{up}](?:{_RUN_SEPARATOR}[{up}])*", bare):
            return "".join(c for c in up if c in bare)
    return extract_choice(text, labels, choices)
