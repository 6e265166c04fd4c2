"""`pandian report`: the survey of a results store (and the catalog) as one self-contained HTML file or Markdown.

Reads only the store and the catalog: no model is loaded, nothing is computed but aggregates. The judgement
sections (bias and safety, strengths and weaknesses, recommendations) are computed by the app's analyses and
passed in as plain data (`sections`: pandian.app.survey.judgement_sections); without them the report says so.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from .survey import gather

SECTIONS = ("bias", "profiles", "recommendations")


def build(store, *, with_records: bool = False, catalog=None, sections: dict | None = None) -> dict:
    data = gather(store, with_records=with_records, catalog=catalog)
    data.update({k: (sections or {}).get(k) for k in SECTIONS})
    data["generated"] = datetime.datetime.fromtimestamp(data["generated_at"]).strftime("%Y-%m-%d %H:%M")
    return data


def write_report(store, out: Path, *, fmt: str = "html", with_records: bool = False, catalog=None,
                 sections: dict | None = None) -> dict:
    """Write the report; returns the survey data it shows."""
    data = build(store, with_records=with_records, catalog=catalog, sections=sections)
    if fmt == "md":
        from .markdown import render_markdown

        text = render_markdown(data)
    else:
        from .html import render_html

        text = render_html(data)
    out = Path(out)
    tmp = out.with_name(out.name + ".part")  # a reader never sees half a report
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return data
