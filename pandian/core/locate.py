"""Where a field sits in a YAML file, for errors that name file, line and field (specs, suites, plans)."""

from __future__ import annotations

import yaml


def line_of(text: str, loc: tuple) -> int | None:
    """Line number of a field path in a YAML document, for error messages."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node else None
    for key in loc:
        if node is None:
            break
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if k.value == str(key)]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def located(path, text: str, loc: tuple) -> str:
    """'FILE, line N, field 'a.b'' (without the line when it cannot be found), as every file error names its
    culprit: specs, suites and plans."""
    line = line_of(text, loc)
    field = ".".join(map(str, loc)) or "(top level)"
    return f"{path}, line {line}, field '{field}'" if line else f"{path}, field '{field}'"
