#!/usr/bin/env bash
# Issue 17's Spark job (tests/scale/spark_job.py) on the recorded fixtures in local[2],
# checked against docs/scale.md's DuckDB recipe on the same captures: the reuse-per-
# server answer row for row, the Parquet tables against connscope's JSONL, and one file
# connscope rejects landing as an error row; before it, spark_job_test.py tests what
# one task does with one capture. Installs nothing: needs Java 17 and the pyspark,
# fsspec and duckdb Python packages (.ci/run installs them). Spark's log goes to a
# file, shown only when the job fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
connscope=$(realpath "${CONNSCOPE:-target/release/connscope}")
command -v java >/dev/null || { echo "spark.sh: needs Java (openjdk-17-jre-headless)" >&2; exit 2; }
python3 -c 'import pyspark, fsspec, duckdb' || { echo "spark.sh: needs pip install pyspark fsspec duckdb" >&2; exit 2; }

# The executors' Python must be the driver's; a loopback address keeps Spark from
# looking for the machine's hostname.
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$(command -v python3)}
export SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1}
CONNSCOPE=$connscope python3 tests/scale/spark_job_test.py

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# DuckDB's side: the recipe's connscope step, as tests/scale/recipe.sh runs it.
mkdir "$work/jsonl"
ls fixtures/*.pcap | xargs -P "$(nproc)" -I{} sh -c "$connscope analyze -q --format jsonl {} > $work/jsonl/\$(basename {}).jsonl"

# Spark's side: the same captures under the same relative names (so every row's `file`
# reads the same), plus one that is not a capture at all.
mkdir -p "$work/spark/fixtures"
for f in fixtures/*.pcap; do ln -s "$repo/$f" "$work/spark/$f"; done
printf 'not a capture\n' >"$work/spark/fixtures/not-a-capture.pcap"

start=$(date +%s)
if ! (cd "$work/spark" && python3 "$repo/tests/scale/spark_job.py" fixtures out \
    --connscope "$connscope" --master 'local[2]' --show 5 2>"$work/job.stderr"); then
    echo "spark.sh: the Spark job failed; its standard error and Spark's log end:" >&2
    tail -n 40 "$work/job.stderr" "$work/spark/out/spark.log" >&2 || true
    exit 1
fi
echo "spark job: $(($(date +%s) - start)) s in local[2]"
python3 tests/scale/spark_check.py "$work/jsonl" "$work/spark/out" fixtures/not-a-capture.pcap
