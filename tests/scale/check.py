#!/usr/bin/env python3
"""Runs docs/scale.md's query with DuckDB over a folder of connscope JSONL files and
checks the answer against the same figures computed from the rows in plain Python."""
import collections, glob, json, os, sys

import duckdb

QUERY = """
SELECT file,
       server.ip || ':' || server.port            AS server,
       count(*)                                    AS connections,
       sum(requests)                               AS requests,
       round(count(*) / sum(requests), 3)          AS connections_per_request
FROM {rows}
WHERE type = 'connection' AND requests > 0
GROUP BY file, server
ORDER BY connections_per_request DESC, connections DESC, file, server
"""

JSONL = "read_json_auto('{folder}/*.jsonl', format = 'newline_delimited', union_by_name = true)"


def reuse_per_server(rows):
    """The query's answer over `rows` (a DuckDB table expression), as plain values."""
    answer = duckdb.sql(QUERY.format(rows=rows)).fetchall()
    return [(f, s, c, int(r), float(ratio)) for f, s, c, r, ratio in answer]


def main(folder):
    got = reuse_per_server(JSONL.format(folder=folder))

    # The same, without DuckDB.
    groups = collections.defaultdict(lambda: [0, 0])
    for path in glob.glob(os.path.join(folder, "*.jsonl")):
        for line in open(path):
            row = json.loads(line)
            if row["type"] == "connection" and row["requests"] > 0:
                key = (row["file"], f'{row["server"]["ip"]}:{row["server"]["port"]}')
                groups[key][0] += 1
                groups[key][1] += row["requests"]
    expected = sorted(
        ((f, s, c, r, round(c / r, 3)) for (f, s), (c, r) in groups.items()),
        key=lambda t: (-t[4], -t[2], t[0], t[1]),
    )
    assert got == expected, f"DuckDB:\n{got}\nPython:\n{expected}"
    top = got[0]
    # The query ranks captures that reused nothing first: curl-no-reuse (three curl
    # processes, one connection per request) and go-diff-before (a Go client holding
    # bodies open: seven connections for seven requests) both have one connection per
    # request.
    no_reuse = {f: (c, r, ratio) for f, s, c, r, ratio in got if ratio == 1.0}
    assert top[4] == 1.0, top
    assert no_reuse.get("fixtures/curl-no-reuse.pcap") == (3, 3, 1.0), no_reuse
    assert no_reuse.get("fixtures/go-diff-before.pcap") == (7, 7, 1.0), no_reuse
    assert "fixtures/go-diff-after.pcap" not in no_reuse, no_reuse
    print(f"scale recipe: {len(got)} (file, server) groups; most connections per request: {top}")


if __name__ == "__main__":
    main(sys.argv[1])
