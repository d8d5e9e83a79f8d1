"""Parses a Prometheus text exposition (format 0.0.4) with the official prometheus_client
parser and prints every sample as one JSON line: {"name", "labels", "value", "family",
"type"}. Exits 1, with the parser's error, on anything it cannot parse.

    python prom_parse.py <exposition file>
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        text = handle.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser raises ValueError and friends
        print(f"parse error: {error!r}", file=sys.stderr)
        sys.exit(1)
    for family in families:
        for sample in family.samples:
            print(json.dumps({
                "family": family.name,
                "type": family.type,
                "name": sample.name,
                "labels": sample.labels,
                "value": sample.value,
            }))


if __name__ == "__main__":
    main()
