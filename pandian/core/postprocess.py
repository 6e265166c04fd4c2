"""OpenCompass's answer post-processors (opencompass/utils/text_postprocessors.py, 0.5.4, Apache-2.0), reproduced
rule for rule, so that a generation run in an OpenCompass format reads the same choice out of a text as OpenCompass
does. They differ from pandian's own extraction on purpose: first_capital takes any capital letter, even one that
is not a label, and first_option falls back to the first label letter anywhere in the text. An answer they find
nothing in is '' (OpenCompass scores it wrong), never a guess.
"""

from __future__ import annotations

import re
from functools import lru_cache


def first_capital(text: str) -> str:
    """The first upper-case character of the text, whatever it is (OpenCompass's first_capital_postprocess)."""
    return next((c for c in text if c.isupper()), "")


@lru_cache(maxsize=16)
def _option_patterns(o: str) -> tuple[re.Pattern, ...]:
    # The order is OpenCompass's: the first pattern that matches decides. Two of its patterns run together (a
    # missing comma in its list: "故选…" and "只有选项…是对" form one pattern); that is kept, as it is what it runs.
    patterns = [
        rf"答案是?\s*([{o}])", rf"答案是?\s*：\s*([{o}])", rf"答案是?\s*:\s*([{o}])",
        rf"答案选项应?该?是\s*([{o}])", rf"答案选项应?该?为\s*([{o}])", rf"答案应该?是\s*([{o}])",
        rf"答案应该?选\s*([{o}])", rf"答案选项为?\s*：\s*([{o}])", rf"答案选项为?\s+\(?\*?\*?([{o}])\*?\*?\)?",
        rf"答案选项是?\s*:\s*([{o}])", rf"答案为\s*([{o}])", rf"答案选\s*([{o}])", rf"选择?\s*([{o}])",
        rf"故选?\s*([{o}])" rf"只有选?项?\s?([{o}])\s?是?对",
        rf"只有选?项?\s?([{o}])\s?是?错", rf"只有选?项?\s?([{o}])\s?不?正确", rf"只有选?项?\s?([{o}])\s?错误",
        rf"说法不?对选?项?的?是\s?([{o}])", rf"说法不?正确选?项?的?是\s?([{o}])", rf"说法错误选?项?的?是\s?([{o}])",
        rf"([{o}])\s?是正确的", rf"([{o}])\s?是正确答案", rf"选项\s?([{o}])\s?正确", rf"所以答\s?([{o}])",
        rf"所以\s?([{o}][.。$]?$)", rf"所有\s?([{o}][.。$]?$)", rf"[\s，：:,]([{o}])[。，,\.]?$",
        rf"[\s，,：:][故即]([{o}])[。\.]?$", rf"[\s，,：:]因此([{o}])[。\.]?$", rf"[是为。]\s?([{o}])[。\.]?$",
        rf"因此\s?([{o}])[。\.]?$", rf"显然\s?([{o}])[。\.]?$", r"答案是\s?(\S+)(?:。|$)", r"答案应该是\s?(\S+)(?:。|$)",
        r"答案为\s?(\S+)(?:。|$)", rf"(?i)ANSWER\s*:\s*([{o}])", rf"[Tt]he answer is:?\s+\(?([{o}])\)?",
        rf"[Tt]he answer is:?\s+\(?\*?\*?([{o}])\*?\*?\)?", rf"[Tt]he answer is option:?\s+\(?([{o}])\)?",
        rf"[Tt]he correct answer is:?\s+\(?([{o}])\)?", rf"[Tt]he correct answer is option:?\s+\(?([{o}])\)?",
        rf"[Tt]he correct answer is:?.*?boxed{{([{o}])}}", rf"[Tt]he correct option is:?.*?boxed{{([{o}])}}",
        rf"[Tt]he correct answer option is:?.*?boxed{{([{o}])}}",
        rf"[Tt]he answer to the question is:?\s+\(?([{o}])\)?", rf"^选项\s?([{o}])", rf"^([{o}])\s?选?项",
        rf"(\s|^)[{o}][\s。，,：:\.$]", r"1.\s?(.*?)$", rf"1.\s?([{o}])[.。$]?$",
        rf"([{o}]):", rf"([{o}])",  # the "cushion" patterns, on by default
    ]
    return tuple(re.compile(p, re.DOTALL) for p in patterns)


def first_option(text: str, options: str = "ABCD") -> str:
    """OpenCompass's first_option_postprocess: the first of its answer patterns that matches names the option; a
    match whose captured text holds several option letters gives the first of `options` found in it."""
    text = text.strip()
    for pattern in _option_patterns(options):
        m = pattern.search(text)
        if m:
            found = m.group(1) if m.group(1) else m.group(0)
            for option in options:
                if option in found:
                    return option
    return ""


POSTPROCESSORS = {"first_capital": lambda text, options: first_capital(text), "first_option": first_option}
