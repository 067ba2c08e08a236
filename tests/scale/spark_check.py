#!/usr/bin/env python3
"""Checks tests/scale/spark_job.py's output against the DuckDB recipe's on the same
captures: the reuse-per-server answer row for row and in order, and the Parquet tables
row for row against connscope's JSONL (read back by DuckDB, a second engine).

    spark_check.py JSONL_DIR SPARK_OUT REJECTED...

JSONL_DIR holds the recipe's one JSONL file per capture; SPARK_OUT is the job's OUT;
REJECTED names the captures the job must have turned into error rows.
"""
import glob
import json
import os
import sys

import duckdb

sys.dont_write_bytecode = True  # no __pycache__ left in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import JSONL, reuse_per_server  # noqa: E402  (the recipe's own query)


def parquet(out, table):
    return f"read_parquet('{out}/{table}/*/*.parquet', hive_partitioning = true)"


def spark_answer(out):
    parts = glob.glob(f"{out}/reuse_per_server/part-*.json")
    assert len(parts) == 1, f"the answer should be one file, found {parts}"
    answer = []
    for line in open(parts[0]):
        row = json.loads(line)
        answer.append(
            (
                row["file"],
                row["server"],
                row["connections"],
                row["requests"],
                float(row["connections_per_request"]),
            )
        )
    return answer


def same_rows(table, kind, key, out, jsonl):
    """The Parquet table holds exactly the JSONL rows of `kind`, compared on `key`
    (a DuckDB select list), and each sits in its own capture's partition."""
    query = "SELECT {key} FROM {rows} WHERE type = '{kind}' ORDER BY ALL"
    want = duckdb.sql(query.format(key=key, rows=jsonl, kind=kind)).fetchall()
    got = duckdb.sql(query.format(key=key, rows=parquet(out, table), kind=kind)).fetchall()
    assert got == want, f"{table}: Parquet {len(got)} rows, JSONL {len(want)}"
    misplaced = duckdb.sql(
        f"SELECT file, capture FROM {parquet(out, table)} "
        "WHERE capture <> regexp_extract(file, '[^/]*$')"
    ).fetchall()
    assert not misplaced, f"{table}: rows in another capture's partition: {misplaced[:3]}"
    return len(got)


def main(jsonl_dir, out, rejected):
    jsonl = JSONL.format(folder=jsonl_dir)
    duck = reuse_per_server(jsonl)
    spark = spark_answer(out)
    for i, (d, s) in enumerate(zip(duck, spark)):
        assert d == s, f"row {i + 1}: DuckDB {d}, Spark {s}"
    assert len(duck) == len(spark), f"DuckDB {len(duck)} rows, Spark {len(spark)}"
    # The Parquet the job wrote answers the same in another engine.
    assert reuse_per_server(parquet(out, "connections")) == duck

    connections = same_rows("connections", "connection", "file, id, community_id", out, jsonl)
    findings = same_rows("findings", "finding", "file, kind, connections", out, jsonl)

    errors = []
    if rejected or os.path.exists(f"{out}/errors"):
        errors = duckdb.sql(
            f"SELECT file, exit_code, message FROM {parquet(out, 'errors')} ORDER BY file"
        ).fetchall()
    assert [e[0] for e in errors] == sorted(rejected), errors
    for file, code, message in errors:
        assert code == 2 and file in message and "not a pcap" in message, (file, code, message)

    print(
        f"spark job = DuckDB recipe: {len(spark)} (file, server) rows equal in order; "
        f"Parquet holds all {connections} connections and {findings} findings; "
        f"{len(errors)} rejected capture(s) as error rows"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
