#!/usr/bin/env bash
# docs/scale.md's recipe, run on the recorded fixtures: connscope over a folder of
# captures (one process per file, in parallel), then one DuckDB query over all the
# JSONL rows. tests/scale/check.py compares the query's answer with the same figures
# computed without DuckDB. Needs the duckdb Python package (.ci/run installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
connscope=${CONNSCOPE:-target/release/connscope}
out=$(mktemp -d)
ls fixtures/*.pcap | xargs -P "$(nproc)" -I{} sh -c "$connscope analyze -q --format jsonl {} > $out/\$(basename {}).jsonl"
python3 tests/scale/check.py "$out"
rm -rf "$out"
