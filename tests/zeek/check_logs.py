#!/usr/bin/env python3
"""Reads connscope's Zeek-format logs with a Zeek log reader from PyPI (parsezeeklogs)
and checks them against connscope's JSON report of the same run.

    check_logs.py LOG_DIR REPORT.json

A reader that accepts the files proves the headers and columns are Zeek's; the field
comparisons prove the values are the report's. Exits 0 when every check passes, 1 with
the first disagreement otherwise. Called by tests/zeek_logs.rs and .ci/run.
"""

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote_to_bytes

from parsezeeklogs import ZeekLog
from parsezeeklogs.ecs import community_id


# Zeek's names for the versions (SSL::version_strings).
ZEEK_VERSIONS = {"SSL 3.0": "SSLv3", "TLS 1.0": "TLSv10", "TLS 1.1": "TLSv11",
                 "TLS 1.2": "TLSv12", "TLS 1.3": "TLSv13"}


def fail(message):
    print(f"check_logs: {message}", file=sys.stderr)
    sys.exit(1)


def read(path, expected_path):
    def on_error(line_number, line, exc):
        fail(f"{path}:{line_number}: the reader rejected a line ({exc}): {line!r}")

    with ZeekLog(path, on_error=on_error) as log:
        rows = list(log)
        if log.header.path != expected_path:
            fail(f"{path}: #path is {log.header.path!r}")
        for directive in ("open", "fields", "types"):
            if directive not in log.header.directives:
                fail(f"{path}: no #{directive}")
        if "close" not in log.header.directives:
            fail(f"{path}: no #close (the log was not finished)")
    return rows


def epoch(rfc3339):
    """'2026-11-30T00:48:07.527446Z' -> seconds, rounded to the microsecond as Zeek prints."""
    whole, _, frac = rfc3339.rstrip("Z").partition(".")
    secs = datetime.fromisoformat(whole).replace(tzinfo=timezone.utc).timestamp()
    return round(secs + float("0." + (frac or "0")), 6)


def same(what, got, want):
    if got != want:
        fail(f"{what}: log has {got!r}, report has {want!r}")


def main():
    log_dir, report_path = Path(sys.argv[1]), sys.argv[2]
    report = json.loads(Path(report_path).read_text())
    conns = read(log_dir / "conn.log", "conn")
    https = read(log_dir / "http.log", "http")
    ssls = read(log_dir / "ssl.log", "ssl")

    by_key = {}
    for row in conns:
        key = (row["id.orig_h"], row["id.orig_p"], row["id.resp_h"], row["id.resp_p"],
               round(row["ts"], 6))
        if key in by_key:
            fail(f"two conn.log rows for {key}")
        by_key[key] = row
    same("conn.log rows", len(conns), len(report["connections"]))
    uids = {row["uid"] for row in conns}
    same("distinct uids", len(uids), len(conns))

    http_by_uid, ssl_by_uid = {}, {}
    for row in https:
        http_by_uid.setdefault(row["uid"], []).append(row)
    for row in ssls:
        if row["uid"] in ssl_by_uid:
            fail(f"two ssl.log rows for {row['uid']}")
        ssl_by_uid[row["uid"]] = row
    for uid in list(http_by_uid) + list(ssl_by_uid):
        if uid not in uids:
            fail(f"uid {uid} of http.log/ssl.log is not in conn.log")

    for c in report["connections"]:
        key = (c["client"]["ip"], c["client"]["port"], c["server"]["ip"], c["server"]["port"],
               epoch(c["start"]))
        row = by_key.get(key)
        if row is None:
            fail(f"connection {c['id']} {key} has no conn.log row")
        what = f"connection {c['id']}"
        same(f"{what} proto", row["proto"], "tcp")
        same(f"{what} conn_state", row["conn_state"], c["conn_state"])
        same(f"{what} history", row["history"], c["history"])
        same(f"{what} orig_pkts", row["orig_pkts"], c["packets"]["client"])
        same(f"{what} resp_pkts", row["resp_pkts"], c["packets"]["server"])
        same(f"{what} orig_bytes", row["orig_bytes"], c["payload_bytes"]["client"])
        same(f"{what} resp_bytes", row["resp_bytes"], c["payload_bytes"]["server"])
        same(f"{what} missed_bytes", row["missed_bytes"],
             c["missed_bytes"]["client"] + c["missed_bytes"]["server"])
        if abs(row["duration"] - c["duration_s"]) > 1e-6:
            fail(f"{what} duration: {row['duration']} vs {c['duration_s']}")
        same(f"{what} community_id", row["community_id"], c["community_id"])
        # An independent implementation of the Community ID spec agrees.
        same(f"{what} community_id (parsezeeklogs)", row["community_id"],
             community_id(row["id.orig_h"], row["id.resp_h"], "tcp",
                          row["id.orig_p"], row["id.resp_p"]))

        rows = http_by_uid.get(row["uid"], [])
        same(f"{what} http.log rows", len(rows), len(c["http"]))
        for h, x in zip(rows, c["http"]):
            w = f"{what} request {x['index']}"
            same(f"{w} trans_depth", h["trans_depth"], x["index"])
            same(f"{w} method", h["method"], x["method"])
            same(f"{w} host", h["host"], x["host"])
            # Zeek logs the URI percent-decoded (its unescaped_URI).
            want_uri = (None if x["target"] is None
                        else unquote_to_bytes(x["target"]).decode("utf-8", errors="replace"))
            same(f"{w} uri", h["uri"], want_uri)
            same(f"{w} status_code", h["status_code"], x["status"])
            same(f"{w} status_msg", h["status_msg"], x["reason"])
            same(f"{w} request_body_len", h["request_body_len"], x["request_body_bytes"])
            same(f"{w} response_body_len", h["response_body_len"], x["response_body_bytes"])

        tls = c["tls"]
        s = ssl_by_uid.get(row["uid"])
        if (tls is None) != (s is None):
            fail(f"{what}: tls is {tls is not None} but ssl.log row is {s is not None}")
        if tls is not None:
            same(f"{what} server_name", s["server_name"], tls["sni"])
            same(f"{what} cipher", s["cipher"], tls["cipher"])
            same(f"{what} established", s["established"], tls["handshake_complete"])
            same(f"{what} resumed", s["resumed"], bool(tls["resumed"]))
            same(f"{what} next_protocol", s["next_protocol"], tls["alpn"])
            want_version = ZEEK_VERSIONS.get(tls["version"], tls["version"])
            if want_version and want_version.startswith("TLS 1.3 draft "):
                want_version = "TLSv13-draft" + want_version.rsplit(" ", 1)[1]
            same(f"{what} version", s["version"], want_version)

    print(f"check_logs: ok: {len(conns)} conn, {len(https)} http, {len(ssls)} ssl rows "
          f"read by parsezeeklogs agree with the report")


if __name__ == "__main__":
    main()
