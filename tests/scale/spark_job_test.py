#!/usr/bin/env python3
"""Tests of tests/scale/spark_job.py's executor side without Spark: what one task does
with one capture (a local file, an object streamed through fsspec, a file connscope
rejects, a connscope that dies or is abandoned) and how a folder is listed. Run from
the repository root; CONNSCOPE names the binary (default target/release/connscope)."""
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

sys.dont_write_bytecode = True  # no __pycache__ left in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spark_job  # noqa: E402

CONNSCOPE = os.path.abspath(os.environ.get("CONNSCOPE", "target/release/connscope"))
CAPTURE = "fixtures/curl-no-reuse.pcap"


def connscope_lines(path):
    out = subprocess.run(
        [CONNSCOPE, "analyze", "-q", "--format", "jsonl", path],
        check=True,
        capture_output=True,
    ).stdout
    return out.decode().splitlines()


def fake_connscope(folder, script):
    """A stand-in binary, for what the real one never does on purpose."""
    path = os.path.join(folder, "connscope")
    with open(path, "w") as out:
        out.write("#!/bin/sh\n" + script)
    os.chmod(path, 0o755)
    return path


class AnalyzeCapture(unittest.TestCase):
    def test_local_capture_yields_connscopes_lines_unchanged(self):
        rows = list(spark_job.analyze_capture(CONNSCOPE, CAPTURE))
        lines = connscope_lines(CAPTURE)
        self.assertEqual([line for _, line in rows], lines)
        self.assertEqual(
            [kind for kind, _ in rows], [json.loads(line)["type"] for line in lines]
        )
        self.assertEqual([k for k, _ in rows].count("connection"), 3)

    def test_object_uri_streams_through_stdin_and_rows_name_the_object(self):
        uri = "local://" + os.path.abspath(CAPTURE)  # fsspec's local store, not file:
        self.assertIsNone(spark_job.local_path(uri))
        rows = [json.loads(line) for _, line in spark_job.analyze_capture(CONNSCOPE, uri)]
        expected = [json.loads(line) for line in connscope_lines(CAPTURE)]
        for row in expected:
            row["file"] = uri
        self.assertEqual(rows, expected)

    def test_object_read_failing_midway_fails_the_task(self):
        # Half a capture would otherwise pass for a short one, its rows for all of them.
        class CutStream(io.RawIOBase):
            def __init__(self, data):
                self.data = data

            def readable(self):
                return True

            def readinto(self, buffer):
                if not self.data:
                    raise ConnectionResetError("connection reset by the store")
                n = min(len(buffer), len(self.data))
                buffer[:n], self.data = self.data[:n], self.data[n:]
                return n

        with open(CAPTURE, "rb") as capture:
            half = capture.read()[:2000]
        real_open = spark_job.open_remote
        spark_job.open_remote = lambda uri: CutStream(half)
        try:
            with self.assertRaisesRegex(RuntimeError, "reading s3a://b/k.pcap failed"):
                list(spark_job.analyze_capture(CONNSCOPE, "s3a://b/k.pcap"))
        finally:
            spark_job.open_remote = real_open

    def test_rejected_file_is_one_error_row(self):
        with tempfile.TemporaryDirectory() as folder:
            bogus = os.path.join(folder, "bogus.pcap")
            with open(bogus, "wb") as out:
                out.write(b"not a capture\n" * 1000)
            for location in (bogus, "local://" + bogus):
                rows = list(spark_job.analyze_capture(CONNSCOPE, location))
                self.assertEqual([kind for kind, _ in rows], ["error"], location)
                error = json.loads(rows[0][1])
                self.assertEqual(error["file"], location)
                self.assertEqual(error["exit_code"], 2)
                self.assertIn("not a pcap", error["message"])

    def test_other_exit_codes_fail_the_task(self):
        with tempfile.TemporaryDirectory() as folder:
            binary = fake_connscope(folder, "echo killed >&2; exit 137\n")
            with self.assertRaisesRegex(RuntimeError, "exited 137 on x.pcap: killed"):
                list(spark_job.analyze_capture(binary, "x.pcap"))

    def test_abandoned_task_leaves_no_connscope_behind(self):
        with tempfile.TemporaryDirectory() as folder:
            pid_file = os.path.join(folder, "pid")
            binary = fake_connscope(
                folder,
                f'echo $$ > {pid_file}\necho \'{{"type":"connection","file":"x"}}\'\n'
                "exec sleep 60\n",
            )
            rows = spark_job.analyze_capture(binary, "x.pcap")
            self.assertEqual(next(rows)[0], "connection")
            started = time.monotonic()
            rows.close()
            self.assertLess(time.monotonic() - started, 10)
            with open(pid_file) as pid:
                self.assertFalse(os.path.exists(f"/proc/{pid.read().strip()}"))


class Listing(unittest.TestCase):
    def test_captures_directly_in_the_folder_biggest_first(self):
        with tempfile.TemporaryDirectory() as folder:
            sizes = {
                "a.pcap": 10,
                "b.pcapng.gz": 30,
                "c.PCAP": 20,
                "d.cap.zst": 15,
                "e.pcap.lz4": 12,
                "notes.txt": 99,
                "notes.txt.gz": 98,
                "old.pcap.bak": 97,
            }
            for name, size in sizes.items():
                with open(os.path.join(folder, name), "wb") as out:
                    out.write(b"x" * size)
            os.mkdir(os.path.join(folder, "older.pcap"))  # a folder, not a capture
            with open(os.path.join(folder, "older.pcap", "f.pcap"), "wb") as out:
                out.write(b"x" * 40)
            top = [
                os.path.join(folder, n)
                for n in ("b.pcapng.gz", "c.PCAP", "d.cap.zst", "e.pcap.lz4", "a.pcap")
            ]
            self.assertEqual(spark_job.list_local(folder), top)
            self.assertEqual(
                spark_job.list_local(folder, recursive=True),
                [os.path.join(folder, "older.pcap", "f.pcap")] + top,
            )

    def test_local_paths_and_uris(self):
        self.assertEqual(spark_job.local_path("fixtures/a.pcap"), "fixtures/a.pcap")
        self.assertEqual(spark_job.local_path("file:/srv/a.pcap"), "/srv/a.pcap")
        self.assertEqual(spark_job.local_path("file:///srv/a.pcap"), "/srv/a.pcap")
        self.assertEqual(spark_job.local_path("odd:name.pcap"), "odd:name.pcap")
        self.assertIsNone(spark_job.local_path("s3a://bucket/a.pcap"))


class OnSpark(unittest.TestCase):
    """The driver's side, on one local Spark session shared by its tests."""

    @classmethod
    def setUpClass(cls):
        from types import SimpleNamespace

        cls.folder = tempfile.mkdtemp()
        log = os.path.join(cls.folder, "spark.log")
        cls.spark = spark_job.start_spark(SimpleNamespace(master="local[1]"), log)
        cls.spark.sparkContext.addFile(CONNSCOPE)
        # Imported here rather than run as the main script, the job's functions
        # reach the Python workers by module name.
        cls.spark.sparkContext.addPyFile(spark_job.__file__)

    def setUp(self):
        # py4j leaves its sockets to the garbage collector; not this code's to fix.
        warnings.simplefilter("ignore", ResourceWarning)

    @classmethod
    def tearDownClass(cls):
        cls.spark.stop()
        shutil.rmtree(cls.folder, ignore_errors=True)

    def test_hadoop_lists_a_uri_as_the_folder_is_listed(self):
        # The driver's listing for object stores, through the JVM; file: is the one
        # Hadoop file system CI has, and its URIs come back as paths connscope opens.
        folder = tempfile.mkdtemp(dir=self.folder)
        os.mkdir(os.path.join(folder, "day"))
        files = {"a.pcap": 10, "b.cap": 30, "notes.txt": 99, "day/c.pcap.gz": 50}
        for name, size in files.items():
            with open(os.path.join(folder, name), "wb") as out:
                out.write(b"x" * size)
        listed = spark_job.list_hadoop(self.spark, "file://" + folder)
        self.assertEqual(listed, [f"file:{folder}/b.cap", f"file:{folder}/a.pcap"])
        self.assertEqual(spark_job.local_path(listed[0]), f"{folder}/b.cap")
        below = spark_job.list_hadoop(self.spark, "file://" + folder, recursive=True)
        self.assertEqual(below, [f"file:{folder}/day/c.pcap.gz"] + listed)

    def test_a_table_with_no_rows_this_run_leaves_no_old_one_behind(self):
        folder = tempfile.mkdtemp(dir=self.folder)
        good = os.path.join(folder, "good.pcap")
        bad = os.path.join(folder, "bad.pcap")
        os.symlink(os.path.abspath(CAPTURE), good)
        with open(bad, "w") as out:
            out.write("not a capture\n")
        out = os.path.join(folder, "out")
        binary = os.path.basename(CONNSCOPE)

        first = spark_job.write_tables(self.spark, [good, bad], binary, out)
        self.assertEqual((first["connection"], first["error"]), (3, 1))
        errors = self.spark.read.parquet(f"{out}/errors").collect()
        self.assertEqual([(e.file, e.capture) for e in errors], [(bad, "bad.pcap")])

        second = spark_job.write_tables(self.spark, [good], binary, out)
        self.assertEqual((second["connection"], second["error"]), (3, 0))
        self.assertFalse(os.path.exists(f"{out}/errors"))
        captures = self.spark.read.parquet(f"{out}/connections").select("capture")
        self.assertEqual({row.capture for row in captures.collect()}, {"good.pcap"})


if __name__ == "__main__":
    unittest.main()
