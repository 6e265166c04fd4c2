"""What a published setting string says ("test 5-shot", "0-shot (OpenCompass)", "val", ""), read into parts, and
how it differs from the setting of a run pandian measured.

Sources write settings freely; only what is written is read. A part a source does not state stays None and is
reported as "not stated", never assumed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HARNESSES = ("OpenCompass", "UltraEval")


@dataclass(frozen=True)
class Setting:
    text: str
    shots: int | None  # None: not stated ("few-shot" states no number either)
    split: str | None  # test / val / dev
    harness: str | None  # OpenCompass / UltraEval
    cot: bool  # chain-of-thought prompting
    few_shot_unnumbered: bool

    @property
    def key(self) -> str:
        """The text with case, spacing and the spelling of zero-shot made uniform: what conflicts compare."""
        t = re.sub(r"\s+", " ", self.text.strip().lower())
        return t.replace("zero-shot", "0-shot")

    def comparable_key(self, leaderboard_split: str | None) -> str:
        """Shots, split, harness and chain-of-thought as stated, a missing split read as the leaderboard's: the
        key under which "5-shot" and "test 5-shot" of C-Eval meet. Settings without a shot count keep `key`."""
        if self.shots is None:
            return self.key
        return f"{self.shots}-shot|{self.split or leaderboard_split}|{self.harness}|{'cot' if self.cot else ''}"


def parse_setting(text: str) -> Setting:
    t = text.strip()
    low = t.lower()
    m = re.search(r"(\d+)-shot", low)
    shots = int(m.group(1)) if m else (0 if "zero-shot" in low else None)
    split = next((s for s in ("test", "val", "dev") if re.search(rf"\b{s}\b", low)), None)
    harness = next((h for h in HARNESSES if h.lower() in low), None)
    return Setting(text=t, shots=shots, split=split, harness=harness, cot="cot" in low,
                   few_shot_unnumbered="few-shot" in low and m is None)


def setting_differences(published: Setting, *, shots: int, split: str, prompt_format: str,
                        default_split: str | None = None) -> list[str]:
    """Why a measured number and a published one may differ, part by part; empty when nothing stated differs.

    default_split: the split a benchmark's leaderboard reports when a source names none (C-Eval: test).
    """
    out = []
    if published.shots is None:
        out.append("shots: not stated by the source" if not published.few_shot_unnumbered
                   else f"shots: published few-shot (number not stated), measured {shots}")
    elif published.shots != shots:
        out.append(f"shots: published {published.shots}, measured {shots}")
    pub_split = published.split or default_split
    if pub_split and pub_split != split:
        stated = "" if published.split else " (the leaderboard's split; the source states none)"
        out.append(f"split: published {pub_split}{stated}, measured {split}")
    if published.harness:
        out.append(f"prompts: published with {published.harness}'s, measured with pandian's '{prompt_format}'")
    if published.cot:
        out.append("prompting: published with chain-of-thought, measured without")
    return out
